"""Date archive helpers: period bounds, a month calendar, neighbouring months with articles.

Dates are UTC days (settings.TIME_ZONE), the same clock `sort_at` is stored and filtered in.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from django.db.models import Count
from django.db.models.functions import TruncMonth
from django.http import Http404
from django.urls import reverse

from newsdesk.news.models import Article

MIN_YEAR, MAX_YEAR = 1900, 2999


@dataclass(frozen=True)
class Period:
    year: int
    month: int | None = None
    day: int | None = None

    @property
    def start(self) -> datetime:
        return datetime(self.year, self.month or 1, self.day or 1, tzinfo=UTC)

    @property
    def end(self) -> datetime:
        if self.day:
            return self.start + timedelta(days=1)
        if self.month:
            return datetime(self.year + self.month // 12, self.month % 12 + 1, 1, tzinfo=UTC)
        return datetime(self.year + 1, 1, 1, tzinfo=UTC)

    @property
    def label(self) -> str:
        if self.day:
            return self.start.strftime("%-d %B %Y")
        if self.month:
            return self.start.strftime("%B %Y")
        return str(self.year)


def period(year: int, month: int | None = None, day: int | None = None) -> Period:
    """The period a URL names; an impossible date (month 13, 30 February) is a 404."""
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise Http404("no archive for that year")
    try:
        date(year, 1 if month is None else month, 1 if day is None else day)
    except ValueError:
        raise Http404("no such date") from None
    return Period(year, month, day)


def month_url(year: int, month: int) -> str:
    return reverse("archive_month", args=[year, month])


@dataclass(frozen=True)
class Day:
    number: int | None  # None: padding outside the month
    url: str | None = None  # set when the day has articles
    current: bool = False
    iso: str = ""


@dataclass(frozen=True)
class MonthCalendar:
    year: int
    month: int
    label: str
    url: str
    weekdays: list[str]
    weeks: list[list[Day]]


def month_calendar(year: int, month: int, selected: int | None = None) -> MonthCalendar:
    start = datetime(year, month, 1, tzinfo=UTC)
    end = Period(year, month).end
    with_articles = {
        d.day for d in Article.objects.filter(sort_at__gte=start, sort_at__lt=end)
        .dates("sort_at", "day")
    }
    weeks: list[list[Day]] = []
    for week in calendar.Calendar(firstweekday=calendar.MONDAY).monthdayscalendar(year, month):
        weeks.append([
            Day(None) if n == 0 else Day(
                n,
                reverse("archive_day", args=[year, month, n]) if n in with_articles else None,
                n == selected,
                date(year, month, n).isoformat(),
            )
            for n in week
        ])
    return MonthCalendar(year, month, start.strftime("%B %Y"), month_url(year, month),
                         [calendar.day_abbr[(calendar.MONDAY + i) % 7] for i in range(7)], weeks)


@dataclass(frozen=True)
class MonthLink:
    label: str
    url: str


def _month_link(when: datetime | None) -> MonthLink | None:
    if when is None:
        return None
    when = when.astimezone(UTC)
    return MonthLink(when.strftime("%B %Y"), month_url(when.year, when.month))


def neighbour_months(p: Period) -> tuple[MonthLink | None, MonthLink | None]:
    """The closest earlier and later months that have articles (two indexed lookups)."""
    month_start = datetime(p.year, p.month or 1, 1, tzinfo=UTC)
    month_end = Period(p.year, p.month).end if p.month else Period(p.year, 12).end
    before = (Article.objects.filter(sort_at__lt=month_start).order_by("-sort_at")
              .values_list("sort_at", flat=True).first())
    after = (Article.objects.filter(sort_at__gte=month_end).order_by("sort_at")
             .values_list("sort_at", flat=True).first())
    return _month_link(before), _month_link(after)


@dataclass(frozen=True)
class MonthCount:
    label: str
    url: str
    count: int


def months_of_year(year: int) -> list[MonthCount]:
    p = Period(year)
    rows = (Article.objects.filter(sort_at__gte=p.start, sort_at__lt=p.end)
            .annotate(m=TruncMonth("sort_at")).values("m").annotate(n=Count("id")).order_by("m"))
    return [MonthCount(r["m"].strftime("%B"), month_url(year, r["m"].month), r["n"])
            for r in rows]

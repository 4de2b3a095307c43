"""Cited outlets: which other news outlets an article credits ("according to Reuters").

Pure ``str``/``re`` code, no Django, no models: a few hundred cue matches at most per article.

How it works. A cue regex per language finds attribution phrases; each cue has a *strength*:

- strong cues imply a news outlet by themselves: "told X", "X reported", "(X) -", "as reported
  by X", "wie X berichtet", "rapporte X", "informó X", "сообщает X";
- weak cues credit any source, people and agencies included: "according to X", "laut X",
  "selon X", "según X", "по данным X".

The name is the run of capitalised words (plus connectors such as "of", "de", "del" between
them) right after the cue, or right before it for "X reported" / "(X)" / "X zufolge". A name is
kept when something says it is an outlet: it is one of ``known`` (our sources) or of
:data:`OUTLETS` (matched case-insensitively, so "dpa" and "RBC-Ukraine" work, and Cyrillic
names in any case ending: "РБК-Украины"); a descriptor precedes it ("the newspaper X", "la
agencia X", "агентство X"); it is quoted («X», „X“); it contains a media word ("News", "Times",
"Zeitung", "Новости"); or the cue is strong and the name looks like a title (acronym, CamelCase,
article-led "The X"/"Le X", or several words outside German).

Limits, kept deliberately simple:
- German capitalises every noun, so German names need one of the outlet signals above (a strong
  cue alone is not enough: "berichtete die Polizei").
- Person filter: honorifics and a small list of common first names, and an apposition with a
  role word (", a spokesman"). An unknown single word after a cue is never taken ("according to
  Temba", "told Harris"); so an unlisted one-word outlet ("told Axios") is missed unless it
  appears in ``known`` or :data:`OUTLETS`.
- Institutions (ministries, police, courts, committees) are refused by a word list; agencies
  such as "Statistics Canada" are refused after weak cues only because they lack a media word.
- Self-citations ("told CNN" in a CNN article) are found; callers drop the article's own outlet.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

__all__ = ["OUTLETS", "Citation", "find_citations", "normalise"]


@dataclass(frozen=True)
class Citation:
    name: str  # the outlet as written (or the known spelling when it matched a known outlet)
    phrase: str  # the whole attribution, cue and name, as in the text
    start: int  # offset of `phrase` in the text


def _words(blob: str) -> frozenset[str]:
    return frozenset(blob.split())


# Well-known outlets and wires (a seed; the caller's `known` adds its own sources).
OUTLETS: tuple[str, ...] = (
    # wires
    "Reuters", "Associated Press", "AP", "AFP", "Agence France-Presse", "dpa", "Deutsche Presse-Agentur",
    "EFE", "Europa Press", "ANSA", "Kyodo", "Xinhua", "Yonhap", "Bloomberg", "UPI",
    "PA Media", "ANP", "APA", "Keystone-SDA", "epd", "KNA", "Interfax", "TASS", "RIA Novosti",
    "Ukrinform", "UNIAN", "Anadolu", "IRNA", "WAFA", "PTI", "ANI", "Bernama", "Antara", "Notimex",
    # English
    "BBC", "BBC News", "CNN", "NBC News", "CBS News", "ABC News", "Fox News", "NPR", "PBS",
    "Sky News", "ITV News", "Al Jazeera", "The New York Times", "The Washington Post",
    "The Wall Street Journal", "The Guardian", "The Times", "The Telegraph", "The Independent",
    "Financial Times", "The Economist", "Politico", "Axios", "Bloomberg News", "CNBC",
    "USA Today", "Los Angeles Times", "The Atlantic", "The New Yorker", "Time", "Newsweek",
    "The Hill", "Vox", "BuzzFeed News", "HuffPost", "Daily Mail", "The Sun", "Mirror", "Metro",
    "The Intercept", "ProPublica", "TechCrunch", "The Verge", "Wired", "Ars Technica",
    "Forbes", "Business Insider", "Semafor", "The Information", "Kyiv Independent",
    "Kyiv Post", "Times of Israel", "Haaretz", "South China Morning Post", "Nikkei",
    "Rest of World", "Deutsche Welle", "DW", "France 24", "Euronews", "RFE/RL",
    "Radio Free Europe", "Voice of America", "Meduza", "Novaya Gazeta", "RBC", "RBC-Ukraine",
    "Ukrainska Pravda", "Kommersant", "Vedomosti", "Izvestia",
    # German
    "Spiegel", "Der Spiegel", "Die Zeit", "Zeit Online", "FAZ", "Frankfurter Allgemeine Zeitung",
    "Süddeutsche Zeitung", "SZ", "Handelsblatt", "Die Welt", "Welt", "Bild", "Stern", "Focus",
    "taz", "Tagesspiegel", "ARD", "ZDF", "Tagesschau", "NDR", "WDR", "BR", "MDR", "SWR", "RBB",
    "NZZ", "Neue Zürcher Zeitung", "Der Standard", "Die Presse", "ORF", "Kurier", "RND",
    "Redaktionsnetzwerk Deutschland", "t-online", "n-tv", "ntv", "Reuters Deutschland",
    # French
    "Le Monde", "Le Figaro", "Libération", "Le Parisien", "Les Echos", "L'Express",
    "Le Point", "L'Obs", "Mediapart", "France Info", "franceinfo", "BFMTV", "RFI",
    "France Inter", "TF1", "Ouest-France", "La Croix", "Le Temps", "RTS", "RTBF", "Le Soir",
    # Spanish
    "El País", "El Mundo", "ABC", "La Vanguardia", "El Confidencial", "elDiario.es",
    "RTVE", "Clarín", "La Nación", "El Universal", "Reforma", "El Tiempo", "Infobae",
    # Russian / Ukrainian
    "ТАСС", "РИА Новости", "Интерфакс", "Интерфакс-Украина", "РБК", "РБК-Украина",
    "Коммерсантъ", "Коммерсант", "Ведомости", "Известия", "Медуза", "Новая газета",
    "Лента.ру", "Газета.ру", "Украинская правда", "Українська правда", "УНИАН", "УНІАН",
    "Укринформ", "Укрінформ", "Би-би-си", "Русская служба Би-би-си", "Радио Свобода",
    "Радіо Свобода", "Эхо Москвы", "Дождь", "Первый канал",
)

# Words that make a capitalised run an outlet by themselves (compared case-folded, per word).
MEDIA_WORDS = _words("""
news online times post journal herald tribune gazette daily weekly telegraph chronicle observer
guardian independent press magazine radio tv television broadcasting broadcaster network
channel wire agency monitor examiner courier review express mirror standard star
zeitung tageszeitung zeitschrift nachrichten nachrichtenagentur rundschau
tagblatt tageblatt anzeiger allgemeine morgenpost abendblatt kurier magazin presse
rundfunk
journal quotidien hebdo hebdomadaire agence dépêche presse matin soir chaîne télévision
diario periódico agencia noticias prensa cadena revista televisión radiotelevisión semanario
новости газета агентство телеканал радио известия вести правда
новини газета агенція телеканал
""")

# Capitalised words that mark an institution or a generic subject, never an outlet.
INSTITUTION_WORDS = _words("""
ministry minister department committee council senate congress parliament court police
government administration office bank house un nato eu imf fbi cia pentagon kremlin
commission bureau institute university party army forces
force military embassy authority authorities service statistics ministerium polizei regierung
bundesregierung behörde gericht staatsanwaltschaft ministère gouvernement police tribunal
ministerio gobierno policía tribunal министерство правительство полиция суд генштаб минобороны
мвд фсб сбу міністерство уряд поліція генштаб
""")

PERSON_TITLES = _words("""
mr mrs ms miss dr prof president senator sen rep gov governor general gen col lt sgt
minister chancellor judge sir lady lord herr frau m mme mlle sr sra srta don doña dña
г-н г-жа господин
""")

FIRST_NAMES = _words("""
john james michael david robert william richard joseph thomas charles daniel matthew mark
paul steven andrew kevin brian george edward peter jason ryan eric stephen jonathan tim
mary patricia jennifer linda elizabeth barbara susan jessica sarah karen nancy lisa anna
emily emma laura rachel maria helen sandra donna carol ruth sharon michelle amy julia
hans peter klaus jürgen wolfgang stefan thomas andreas markus martin frank uwe anna ursula
petra sabine monika claudia katrin angela olaf friedrich christian annalena
jean pierre michel philippe alain nicolas françois jacques marie sophie isabelle nathalie
emmanuel juan josé carlos luis antonio manuel miguel pedro javier ana carmen lucía isabel
pedro pablo alejandro
иван владимир дмитрий сергей александр андрей алексей михаил николай юрий ольга мария
анна елена наталья татьяна ирина светлана
володимир олександр андрій сергій дмитро олена ірина юлія
""")

ROLE_WORDS = (
    r"spokes(?:man|woman|person)|official|minister|director|president|chief|head|professor|"
    r"analyst|lawyer|attorney|executive|ceo|founder|secretary|mayor|governor|senator|adviser|"
    r"advisor|expert|researcher|economist|member|leader|resident|sprecher(?:in)?|minister(?:in)?|"
    r"präsident(?:in)?|porte-parole|ministre|directeur|directrice|portavoz|ministro|"
    r"представител\w*|министр\w*|глав\w*|пресс-секретар\w*|речник\w*|міністр\w*"
)
_APPOSITION = re.compile(
    r"\s*,\s*(?:a|an|the|who|der|die|ein|eine|un|une|el|la|le|который|которая|який|яка)\b"
    r"[^.;:!?\n]{0,60}?\b(?:" + ROLE_WORDS + r")\b|\s*,\s*(?:who|der|die|который|которая|який|яка)\b",
    re.IGNORECASE,
)

# Leading articles skipped before a name ("according to the BBC", "d'après l'AFP").
_LEAD_ARTICLE = re.compile(
    r"(?:the|der|die|das|dem|den|des|le|la|les|l['’]|du|de\s+la|de\s+l['’]|el|los|las|del)"
    r"(?:\s+|(?<=['’]))",
    re.IGNORECASE,
)
# "the newspaper X", "la agencia X", "агентство X": a descriptor that makes X an outlet.
_DESCRIPTOR = re.compile(
    # Case-sensitive on purpose: "the newspaper X" is a descriptor, "Radio Free Europe" a name.
    r"(?:(?:the|a|der|die|das|dem|den|des|le|la|l['’]|du|el|del|une?)\s*)?(?:"
    r"(?:news\s+)?(?:agency|newspaper|paper|daily|broadcaster|magazine|outlet|website|"
    r"news\s+site|tabloid|network|channel|wire\s+service)|"
    r"(?:Nachrichten)?[Aa]gentur|Zeitung|Tageszeitung|Magazin|Sender|Nachrichtenportal|"
    r"Boulevardblatt|quotidien|journal|agence(?:\s+de\s+presse)?|hebdomadaire|"
    r"magazine|chaîne|site(?:\s+d['’]information)?|diario|periódico|agencia(?:\s+de"
    r"\s+noticias)?|cadena|revista|"
    r"агентств\w*|издани\w*|газет\w*|телеканал\w*|портал\w*|агенці\w*|видання)\s+",
)

# One word of a name: letters/digits with inner hyphens, dots, ampersands and apostrophes.
_WORD = re.compile(r"[^\W_](?:[\w&+]|[-.'’](?=[^\W_]))*", re.UNICODE)
_GAP = re.compile(r"[ \t\u00a0]{1,3}")
_QUOTED = re.compile(r"[«„“\"‚‘]\s*([^«»„“”\"\n]{2,60}?)\s*[»“”\"‘’]")
_CONNECTORS = _words("of de del la le les du des y e for and und & am im di da dos das the")
_CALENDAR = _words("""
monday tuesday wednesday thursday friday saturday sunday january february march april may
june july august september october november december montag dienstag mittwoch donnerstag
freitag samstag sonntag lundi mardi mercredi jeudi vendredi samedi dimanche lunes martes
miércoles jueves viernes sábado domingo
""")
_CAPITAL_ARTICLES = {
    "en": ("The",), "fr": ("Le", "La", "Les", "L'", "L’"), "es": ("El", "La", "Los", "Las"),
    "de": ("Der", "Die", "Das"), "it": ("Il", "La", "Lo", "I"),
}
_ALL_CAPITAL_ARTICLES = frozenset(a for v in _CAPITAL_ARTICLES.values() for a in v)

STRONG, WEAK = 2, 1
AFTER, BEFORE, DATELINE, WIE = "after", "before", "dateline", "wie"

# (regex, lang, strength, where the name is). Cues are case-insensitive, bounded by \b.
_CUES: list[tuple[str, str, int, str]] = [
    # English
    (r"according\s+to\s+(?:a\s+|the\s+|new\s+|recent\s+)*reports?\s+(?:by|in|from|on)", "en",
     STRONG, AFTER),
    (r"according\s+to", "en", WEAK, AFTER),
    (r"(?:as\s+)?(?:first\s+|originally\s+|previously\s+|earlier\s+)?"
     r"(?:reported|stated|published|revealed|cited)\s+(?:by|in)", "en", STRONG, AFTER),
    (r"in\s+an\s+interview\s+with", "en", STRONG, AFTER),
    (r"(?:told|tells|telling)", "en", STRONG, AFTER),
    (r"citing\s+(?:a\s+)?reports?\s+(?:by|in|from)", "en", STRONG, AFTER),
    (r"citing", "en", WEAK, AFTER),
    (r"(?:first\s+|previously\s+|earlier\s+|also\s+)?(?:reported|reports|has\s+reported|"
     r"had\s+reported|was\s+first\s+to\s+report)", "en", STRONG, BEFORE),
    # German
    (r"laut\s+(?:einem\s+|dem\s+)?Bericht\s+(?:der|des|von|im|in\s+der)", "de", STRONG, AFTER),
    (r"laut", "de", WEAK, AFTER),
    (r"nach\s+Angaben\s+(?:von|der|des)", "de", WEAK, AFTER),
    (r"unter\s+Berufung\s+auf", "de", WEAK, AFTER),
    (r"(?:berichtet|berichtete|berichten|meldet|meldete|schreibt|schrieb)(?:\s+(?:zuerst|am\s+"
     r"\w+|online|unter\s+Berufung\s+auf\s+\w+))?", "de", STRONG, AFTER),
    (r"wie", "de", STRONG, WIE),
    (r"zufolge", "de", WEAK, BEFORE),
    # French
    (r"selon\s+(?:un\s+article|une\s+information|des\s+informations)\s+(?:du|de\s+la|de\s+l['’]"
     r"|de|des)", "fr", STRONG, AFTER),
    (r"selon", "fr", WEAK, AFTER),
    (r"d['’]apr[èe]s", "fr", WEAK, AFTER),
    (r"citant", "fr", WEAK, AFTER),
    (r"(?:a\s+|ont\s+|l['’]a\s+|comme\s+l['’]a\s+)?(?:rapport[ée]|rapporte|indiqué|déclaré|"
     r"confié|expliqué|affirmé|précisé|révélé)(?:\s+(?:à|a))?", "fr", STRONG, AFTER),
    # Spanish
    (r"seg[úu]n\s+(?:inform[óo]|public[óo]|un\s+(?:informe|reportaje|art[íi]culo)\s+(?:de|del|"
     r"en))", "es", STRONG, AFTER),
    (r"seg[úu]n", "es", WEAK, AFTER),
    (r"de\s+acuerdo\s+con", "es", WEAK, AFTER),
    (r"citad[oa]s?\s+por", "es", STRONG, AFTER),
    (r"(?:como\s+)?(?:inform[óo]|public[óo]|revel[óo]|report[óo]|informa)", "es", STRONG,
     AFTER),
    (r"(?:dijo|declar[óo]|explic[óo]|afirm[óo]|señal[óo])\s+a", "es", STRONG, AFTER),
    # Russian
    (r"(?:как\s+)?(?:сообщает|сообщил[аои]?|пишет|писал[аои]?|передает|передаёт|передал[аои]?)",
     "ru", STRONG, AFTER),
    (r"(?:заявил[аи]?|рассказал[аи]?)", "ru", STRONG, AFTER),
    (r"(?:по\s+данным|по\s+информации|согласно\s+данным|согласно|со\s+ссылкой\s+на)", "ru",
     WEAK, AFTER),
    # Ukrainian
    (r"(?:як\s+)?(?:повідомляє|повідомив|повідомила|повідомили|пише|передає)", "uk", STRONG,
     AFTER),
    (r"(?:за\s+даними|за\s+інформацією|з\s+посиланням\s+на|згідно\s+з)", "uk", WEAK, AFTER),
]
# Literal lowercase words, one of which each cue contains (same order as _CUES): the text is
# searched for these with str.find, and a cue regex runs only in a small window around a hit.
# One big case-insensitive alternation over the whole text is ~30x slower (60 ms on 5,000 words).
_ANCHORS: list[tuple[str, ...]] = [
    ("according",), ("according",), ("report", "stated", "published", "revealed", "cited"),
    ("interview",), ("told", "tell"), ("citing",), ("citing",), ("report",),
    ("laut",), ("laut",), ("angaben",), ("berufung",), ("bericht", "meldet", "schr"),
    ("wie",), ("zufolge",),
    ("selon",), ("selon",), ("d'apr", "d’apr"), ("citant",),
    ("rapport", "indiqu", "déclar", "confi", "expliq", "affirm", "précis", "révél"),
    ("según", "segun"), ("según", "segun"), ("acuerdo",), ("citad",),
    ("inform", "public", "revel", "report"), ("dijo", "declar", "explic", "afirm", "señal"),
    ("сообщ", "пиш", "пис", "переда"), ("заяв", "рассказ"),
    ("данным", "информации", "согласно", "ссылк"),
    ("повідом", "пише", "переда"), ("даними", "інформац", "посилан", "згідно"),
]
assert len(_ANCHORS) == len(_CUES)
_CUE_RES = [re.compile(rf"(?<![\w])(?:{rx})(?![\w])", re.IGNORECASE) for rx, *_ in _CUES]
_DATELINE_ANCHORS = (") -", ") —", ") –", ")-", ")—", ")–", ") --")
# "LONDON, May 2 (Reuters) -", "LA CROSSE, Wis. (AP) —": a credit in parentheses then a dash.
_DATELINE = re.compile(r"\((?P<dl>[^()\n]{2,40})\)\s*(?:--|[-–—])")
_WINDOW = 36  # characters searched either side of an anchor (longer than any cue's reach)


def _lower_same_length(text: str) -> str:
    low = text.lower()
    if len(low) == len(text):
        return low
    # A few characters lowercase to two ("İ"): keep offsets aligned with the text.
    return "".join(c.lower() if len(c.lower()) == 1 else c for c in text)


_CYRILLIC = re.compile(r"[а-яёіїєґ]")


def _cue_matches(text: str) -> list[tuple[re.Match[str], int]]:
    """Cue matches in text order; -1 marks a dateline. Overlaps keep the earlier-listed cue."""
    low = _lower_same_length(text)
    cyrillic = bool(_CYRILLIC.search(low))
    hits: dict[str, list[int]] = {}  # each anchor searched once, however many cues share it

    def where(anchor: str) -> list[int]:
        if anchor not in hits:
            found_at: list[int] = []
            if cyrillic or not _CYRILLIC.search(anchor):
                at = low.find(anchor)
                while at >= 0:
                    found_at.append(at)
                    at = low.find(anchor, at + 1)
            hits[anchor] = found_at
        return hits[anchor]

    found: dict[tuple[int, int, int], re.Match[str]] = {}
    n = len(text)
    jobs = [*zip(_ANCHORS, _CUE_RES, range(len(_CUES)), strict=True),
            (_DATELINE_ANCHORS, _DATELINE, -1)]
    for anchors, rx, idx in jobs:
        for anchor in anchors:
            for at in where(anchor):
                lo, hi = max(0, at - _WINDOW), min(n, at + len(anchor) + _WINDOW)
                for m in rx.finditer(text, lo, hi):
                    if m.start() <= at < m.end() or idx < 0:
                        found.setdefault((m.start(), idx, m.end()), m)
    out: list[tuple[re.Match[str], int]] = []
    end = -1
    for (start, idx, stop), m in sorted(found.items(), key=lambda kv: (
            kv[0][0], kv[0][1] if kv[0][1] >= 0 else len(_CUES), -kv[0][2])):
        if start >= end:
            out.append((m, idx))
            end = stop
    return out


def normalise(name: str) -> str:
    """The identity of an outlet name: case-folded, quotes and a leading article dropped."""
    n = " ".join(name.replace("’", "'").strip(" \"'«»„“”‚‘").split()).casefold()
    n = re.sub(r"^(?:the|le|la|les|l'|el|los|las|der|die|das|il)\s*(?=\w)", "", n)
    return n


def _known_pattern(name: str) -> str:
    pat = r"\s+".join(re.escape(w) for w in name.split())
    # Cyrillic names decline ("РБК-Украины", "Интерфакса"): accept a short ending change.
    if re.search(r"[а-яёіїєґ]$", name, re.IGNORECASE) and len(name) >= 4:
        stem = re.escape(name[:-1]) if name[-1].lower() in "аяоеыиьй" else re.escape(name)
        pat = r"\s+".join(stem.split(r"\ ")) + r"[а-яёіїєґ]{0,3}"
    return pat


@dataclass(frozen=True)
class _Known:
    regex: re.Pattern[str]
    by_key: dict[str, str]  # normalised key -> display spelling


@lru_cache(maxsize=32)
def _compile_known(names: tuple[str, ...]) -> _Known:
    by_key: dict[str, str] = {}
    for n in names:  # the caller's spelling wins over the seed list (it comes first)
        clean = " ".join(n.split())
        if clean:
            by_key.setdefault(normalise(clean), clean)
            # Matching without the article too: "du Monde" / "according to Guardian".
            bare = re.sub(r"^(?:The|Le|La|Les|L'|El|Los|Las|Der|Die|Das)\s+", "", clean)
            if bare != clean and len(bare) > 3:
                by_key.setdefault(normalise(bare), clean)
    forms = sorted({k for k in by_key}, key=len, reverse=True)
    alts = "|".join(_known_pattern(f) for f in forms)
    regex = re.compile(rf"(?:{alts})(?![\w])", re.IGNORECASE)
    return _Known(regex, by_key)


@lru_cache(maxsize=32)
def _known_with_seed(known: tuple[str, ...]) -> _Known:
    # Cached on the caller's tuple: merging ~1,300 names with the seed list on every call cost
    # a third of the time of a short text's scan.
    return _compile_known(tuple(dict.fromkeys([*known, *OUTLETS])))


def _lookup(known: _Known, text: str) -> str | None:
    key = normalise(text)
    if key in known.by_key:
        return known.by_key[key]
    # A declined Cyrillic form: find the listed name it matched.
    m = known.regex.fullmatch(text)
    if m:
        for k, v in known.by_key.items():
            if re.fullmatch(_known_pattern(k), text, re.IGNORECASE):
                return v
    return None


@dataclass
class _Name:
    text: str
    start: int
    end: int
    words: list[str]
    known: str | None = None
    quoted: bool = False
    descriptor: bool = False


def _is_cap(word: str) -> bool:
    return word[:1].isupper() or (word[:1].isdigit() and any(c.isupper() for c in word))


def _read_words_forward(text: str, pos: int) -> tuple[list[tuple[str, int, int]], int]:
    """Capitalised words (with connectors between them) from `pos`; stops at anything else."""
    words: list[tuple[str, int, int]] = []
    i = pos
    while len(words) < 6:
        m = _WORD.match(text, i)
        if not m:
            break
        w = m.group(0)
        possessive = re.match(r"['’]s\b", text[m.end():m.end() + 3])
        if w.endswith(("'s", "’s")):
            w, possessive = w[:-2], True
        if _is_cap(w) and w.casefold() not in _CALENDAR:
            words.append((w, m.start(), m.start() + len(w)))
        elif words and w.casefold() in _CONNECTORS:
            words.append((w, m.start(), m.end()))
        else:
            break
        if possessive:
            break
        i = m.start() + len(w)
        gap = _GAP.match(text, i)
        if not gap:
            break
        i = gap.end()
    while words and not _is_cap(words[-1][0]):  # "Rest of" -> "Rest"
        words.pop()
    return words, (words[-1][2] if words else pos)


def _name_after(text: str, pos: int, known: _Known) -> _Name | None:
    i = pos
    gap = re.compile(r"\s*").match(text, i)
    i = gap.end() if gap else i
    descriptor = False
    d = _DESCRIPTOR.match(text, i)
    if d:
        descriptor, i = True, d.end()
    q = _QUOTED.match(text, i)
    if q and _is_cap(q.group(1)):
        name = q.group(1).strip()
        return _Name(name, q.start(), q.end(), name.split(), _lookup(known, name), True,
                     descriptor)
    art = _LEAD_ARTICLE.match(text, i)
    starts = [i] + ([art.end()] if art else [])
    for s in starts:
        k = known.regex.match(text, s)
        if k:
            after = text[k.end():k.end() + 40]
            cont = _WORD.match(after.lstrip(" \u00a0")) if after[:1] in " \u00a0" else None
            if not (cont and _is_cap(cont.group(0)) and after.lstrip(" \u00a0") == after[1:]):
                found = _lookup(known, k.group(0))
                # "according to focus groups" is not Focus: a capitalised name must be
                # written capitalised (all-lowercase names such as "dpa" match any case).
                if found and (found[:1].islower() or k.group(0)[:1].isupper()):
                    return _Name(k.group(0), k.start(), k.end(), k.group(0).split(), found,
                                 False, descriptor)
    for s in starts:
        q = _QUOTED.match(text, s)
        if q and _is_cap(q.group(1)):
            name = q.group(1).strip()
            return _Name(name, q.start(), q.end(), name.split(), _lookup(known, name), True,
                         descriptor)
        words, end = _read_words_forward(text, s)
        if words:
            name = text[words[0][1]:end]
            return _Name(name, words[0][1], end, [w for w, *_ in words], _lookup(known, name),
                         False, descriptor)
    return None


_BACK_WORD = re.compile(r"([^\W_](?:[\w&+]|[-.'’](?=[^\W_]))*)[ \t\u00a0]*$")


def _name_before(text: str, end: int, known: _Known) -> _Name | None:
    window_start = max(0, end - 120)
    chunk = text[window_start:end].rstrip()
    # "Yonhap news agency reported": a lowercase descriptor between name and verb.
    desc = re.search(r"\s(?:news\s+agency|newspaper|agency|daily|broadcaster|magazine|"
                     r"agentur|zeitung)\s*$", chunk, re.IGNORECASE)
    descriptor = bool(desc and not _is_cap(desc.group(0).strip()))
    if descriptor and desc:
        chunk = chunk[:desc.start()]
    words: list[tuple[str, int]] = []
    while len(words) < 6:
        m = _BACK_WORD.search(chunk)
        if not m:
            break
        w = m.group(1)
        if (_is_cap(w) and w.casefold() not in _CALENDAR) or (
                words and w.casefold() in _CONNECTORS):
            words.append((w, window_start + m.start(1)))
        else:
            break
        chunk = chunk[:m.start(1)]
        if not re.search(r"[ \t\u00a0]$", chunk):
            break
    while words and not _is_cap(words[-1][0]):
        words.pop()
    if not words:
        return None
    words.reverse()
    start = words[0][1]
    last = words[-1]
    stop = last[1] + len(last[0])
    name = text[start:stop]
    found = _lookup(known, name)
    if not found:  # "Earlier Reuters reported": prefer the longest known suffix
        for i in range(1, len(words)):
            tail = text[words[i][1]:stop]
            found = _lookup(known, tail)
            if found:
                start, name = words[i][1], tail
                break
    return _Name(name, start, stop, [w for w, _ in words if w], found, False, descriptor)


def _person(name: _Name, text: str) -> bool:
    first = name.words[0].rstrip(".").casefold()
    if first in PERSON_TITLES or first in FIRST_NAMES:
        return True
    return bool(_APPOSITION.match(text, name.end))


def _looks_like_outlet(name: _Name, strength: int, cue_lang: str, language: str | None,
                       text: str) -> bool:
    if name.known:
        return True
    if _person(name, text):
        return False
    folded = [w.casefold() for w in name.words]
    if any(w in INSTITUTION_WORDS for w in folded):
        return False
    if name.descriptor or name.quoted:
        return True
    # A media word alone is generic ("das Fernsehen"); with a name it is a title.
    if (len(folded) > 1 and any(w in MEDIA_WORDS for w in folded)) or re.search(
            r"\.(?:com|de|fr|es|ru|ua|net|org|co\.uk|info|at|ch)$", name.text, re.IGNORECASE):
        return True
    if strength < STRONG:
        first = name.words[0]
        # "according to The Assembly", "selon Le Parisien": a capitalised article mid-sentence.
        return len(name.words) > 1 and _article_led(first, language)
    german = cue_lang == "de" or (language or "").startswith("de")
    core = name.words[0]
    letters = [c for c in core if c.isalpha()]
    acronym = len(letters) >= 2 and all(c.isupper() for c in letters) and len(name.words) == 1
    camel = len(name.words) == 1 and bool(re.search(r"[a-zа-я][A-ZА-Я]", core))
    if acronym or camel:
        return True
    if german:
        return False
    if len(name.words) > 1 and _article_led(core, language):
        return True
    return len(name.words) > 1 and name.words[0] not in _ALL_CAPITAL_ARTICLES


def _article_led(word: str, language: str | None) -> bool:
    lang = (language or "")[:2].lower()
    allowed = _CAPITAL_ARTICLES.get(lang) if lang else None
    return word in (allowed if allowed is not None else _ALL_CAPITAL_ARTICLES)


def find_citations(text: str, language: str | None = None,
                   known: Iterable[str] = ()) -> list[Citation]:
    """Outlets the text credits, deduplicated by normalised name, in order of first appearance.

    `language` (ISO 639-1) tightens capitalisation rules ("de": nouns are capitalised; "en":
    only "The" leads a title). `known` are outlet names to recognise in any case and to return
    in their listed spelling (e.g. our sources' names).
    """
    if not text:
        return []
    known_t = _known_with_seed(known if isinstance(known, tuple) else tuple(known))
    out: dict[str, Citation] = {}
    for m, idx in _cue_matches(text):
        if idx < 0:
            inner = m.group("dl").strip()
            found = _lookup(known_t, inner)
            letters = [c for c in inner if c.isalpha()]
            line = text[text.rfind("\n", 0, m.start()) + 1:m.start()]
            # Unknown names count only in a real dateline: "KYIV (UNIAN) -", not "(TNO) -".
            dateline = len(line) <= 60 and re.search(r"\b[A-Z]{3,}\b", line)
            if not found and not (letters and all(c.isupper() for c in letters)
                                  and len(inner) <= 12 and dateline):
                continue  # "(file photo) -": only wire-like credits count
            name = _Name(inner, m.start("dl"), m.end("dl"), inner.split(), found)
            strength, cue_lang, where = STRONG, "en", DATELINE
        else:
            _rx, cue_lang, strength, where = _CUES[idx]
            if where == BEFORE:
                if cue_lang == "en" and m.group(0)[:1].isupper():
                    continue  # "Reported by ..." at a sentence start is a byline, not a credit
                name = _name_before(text, m.start(), known_t)
            else:
                name = _name_after(text, m.end(), known_t)
                if name and where == WIE:
                    tail = text[name.end:name.end + 60]
                    if not re.match(r"[^.,;:!?\n]{0,30}?\b(?:berichtet|berichtete|berichten|"
                                    r"meldet|meldete|schreibt|schrieb|mitteilte|meldeten)\b",
                                    tail):
                        continue
        if name is None or not name.words:
            continue
        if not _looks_like_outlet(name, strength, cue_lang, language, text):
            continue
        display = name.known or name.text.strip(" \"'«»„“”‚‘")
        key = normalise(display)
        if key and key not in out:
            start = min(m.start(), name.start)
            end = max(m.end(), name.end)
            out[key] = Citation(display, text[start:end], start)
    return sorted(out.values(), key=lambda c: c.start)

"""Public takedown pages (mounted before the site's pages in newsdesk.urls)."""

from django.urls import path

from newsdesk.takedown import views

urlpatterns = [
    path("takedown", views.request_form, name="takedown"),
    path("takedown/<str:public_id>", views.status, name="takedown-status"),
    path("takedown/<str:public_id>/verify", views.verify_file, name="takedown-verify-file"),
    path("takedown/<str:public_id>/email", views.send_email, name="takedown-send-email"),
    path("takedown/<str:public_id>/confirm/<str:token>", views.confirm, name="takedown-confirm"),
]

from django.urls import path

from newsdesk.web import views

urlpatterns = [
    path("", views.index, name="index"),
]

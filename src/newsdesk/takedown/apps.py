from django.apps import AppConfig


class TakedownConfig(AppConfig):
    name = "newsdesk.takedown"
    label = "takedown"
    verbose_name = "Takedown requests"

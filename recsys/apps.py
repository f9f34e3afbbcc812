from django.apps import AppConfig


class RecsysConfig(AppConfig):
    name = "recsys"
    verbose_name = "Recommendations"
    default_auto_field = "django.db.models.BigAutoField"

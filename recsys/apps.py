from django.apps import AppConfig


class RecsysConfig(AppConfig):
    name = "recsys"
    verbose_name = "Recommendations"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from django.core import checks

        from recsys.clients.auth import check_view_scopes

        checks.register(check_view_scopes, "security")  # curio.E001: every API view declares its scopes

from django.apps import AppConfig


class RecsysConfig(AppConfig):
    name = "recsys"
    verbose_name = "Recommendations"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from django.core import checks

        from recsys.clients.auth import check_view_scopes
        from recsys.core import demo_mode
        from recsys.storefront.selectors import demo_is_loaded

        checks.register(check_view_scopes, "security")  # curio.E001: every API view declares its scopes
        demo_mode.set_loaded_check(demo_is_loaded)  # "auto" demo mode asks the demo shop (cached there)

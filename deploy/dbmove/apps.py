from django.apps import AppConfig


class DbMoveConfig(AppConfig):
    name = "deploy.dbmove"
    label = "dbmove"
    verbose_name = "Data moves between databases"
    default_auto_field = "django.db.models.BigAutoField"

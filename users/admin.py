from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.auth.admin import UserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from config.errors import DomainError
from users.models import CreditAccount, CreditLedgerEntry, User
from users.services import credit_account_open, credits_grant, spreadsheet_id_parse, user_set_spreadsheet


@admin.register(User)
class CallmcpUserAdmin(UserAdmin):
    fieldsets = (*(UserAdmin.fieldsets or ()),
                 ("MCP access", {"fields": ("scopes", "plan", "rate_limits", "spend_confirm_threshold")}),
                 ("Google Sheets", {"fields": ("sheets_spreadsheet_id",)}))
    list_display = ("username", "email", "plan", "is_staff", "is_active", "date_joined")
    list_filter = ("plan", "is_staff", "is_active")

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        form = super().get_form(request, obj, change=change, **kwargs)
        if "sheets_spreadsheet_id" in form.base_fields:
            form.base_fields["sheets_spreadsheet_id"].validators.append(_spreadsheet_id_validator)
        return form

    def save_model(self, request: HttpRequest, obj: User, form: Any, change: bool) -> None:
        chosen = obj.sheets_spreadsheet_id
        if change and "sheets_spreadsheet_id" in form.changed_data:
            obj.sheets_spreadsheet_id = form.initial.get("sheets_spreadsheet_id", "")  # the service moves it
        super().save_model(request, obj, form, change)
        credit_account_open(user=obj)  # so that Credit accounts -> Grant credits can reach the new user
        if chosen != obj.sheets_spreadsheet_id or not change:
            user_set_spreadsheet(user=obj, spreadsheet_id=chosen)  # queues the user's calls for the new sheet


def _spreadsheet_id_validator(value: str) -> None:
    try:
        spreadsheet_id_parse(value)
    except DomainError as exc:
        raise forms.ValidationError(exc.message, code=exc.code) from exc


class GrantCreditsForm(forms.Form):
    amount = forms.IntegerField(min_value=1, help_text="Credits to add to each selected account.")
    memo = forms.CharField(max_length=200, required=False)


class AvailableAfter:
    """The ledger's balance_after, named as users read it everywhere (REST, MCP, README): available."""

    @admin.display(description="available after", ordering="balance_after")
    def available_after(self, entry: CreditLedgerEntry) -> int:
        return entry.balance_after


class LedgerInline(AvailableAfter, admin.TabularInline):
    model = CreditLedgerEntry
    fields = ("created_at", "kind", "amount", "reserved_delta", "spent", "available_after", "reference", "memo")
    readonly_fields = fields
    extra = 0
    max_num = 0
    can_delete = False
    ordering = ("-id",)
    show_change_link = True


@admin.register(CreditAccount)
class CreditAccountAdmin(admin.ModelAdmin):
    list_display = ("user", "available", "reserved", "total", "updated_at")
    search_fields = ("user__username", "user__email")
    fields = readonly_fields = ("user", "available", "reserved", "total", "updated_at")  # moved by the ledger only
    actions = ["grant_credits"]
    inlines = [LedgerInline]
    list_select_related = ("user",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="available", ordering="balance")
    def available(self, account: CreditAccount) -> int:
        return account.balance

    @admin.display(description="total")
    def total(self, account: CreditAccount) -> int:
        return account.balance + account.reserved

    @admin.action(description="Grant credits to the selected accounts")
    def grant_credits(self, request: HttpRequest, queryset: QuerySet[CreditAccount]) -> HttpResponse | None:
        form = GrantCreditsForm(request.POST if "apply" in request.POST else None)
        if "apply" in request.POST and form.is_valid():
            for account in queryset.select_related("user"):
                try:
                    credits_grant(
                        user=account.user,
                        amount=form.cleaned_data["amount"],
                        memo=form.cleaned_data["memo"] or f"granted by {request.user}",
                        actor=request.user,  # type: ignore[arg-type]
                    )
                except DomainError as exc:
                    self.message_user(request, f"{account.user}: {exc.message}", messages.ERROR)
                    return None
            self.message_user(
                request, f"Granted {form.cleaned_data['amount']} credits to {queryset.count()} account(s)."
            )
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": "Grant credits",
            "form": form,
            "accounts": queryset,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/users/grant_credits.html", context)


@admin.register(CreditLedgerEntry)
class CreditLedgerEntryAdmin(AvailableAfter, admin.ModelAdmin):
    list_display = ("created_at", "account", "kind", "amount", "reserved_delta", "spent", "available_after",
                    "reference")
    list_filter = ("kind",)
    search_fields = ("account__user__username", "reference", "memo")
    list_select_related = ("account__user",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

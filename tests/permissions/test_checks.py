from __future__ import annotations

from django.test import override_settings

from django_bearer_guard.checks import check_scope_declarations


def test_check_scope_declarations_passes_project_urls() -> None:
    assert check_scope_declarations() == []


@override_settings(ROOT_URLCONF="tests.testapp.bad_scope_urls")
def test_check_scope_declarations_reports_each_undeclared_method() -> None:
    messages = [(m.id, m.msg) for m in check_scope_declarations()]
    prefix = "tests.testapp.bad_scope_urls."
    assert messages == [
        (
            "bearer_guard.E020",
            f"{prefix}Undeclared at 'undeclared/' uses HasScopes but declares no valid scopes for GET.",
        ),
        (
            "bearer_guard.E020",
            f"{prefix}PostOnlyDeclared at 'post-only/' uses HasScopes but declares no valid scopes for POST.",
        ),
        (
            "bearer_guard.E021",
            f"{prefix}NoWorkloads at 'no-workloads/' uses AllowedWorkloads "
            "without an allowed_workloads list.",
        ),
        (
            "bearer_guard.E020",
            f"{prefix}PartlyDeclaredViewSet at 'nested/^things/$' "
            "uses HasScopes but declares no valid scopes for POST.",
        ),
    ]


@override_settings(ROOT_URLCONF="tests.testapp.bad_scope_urls")
def test_check_scope_declarations_messages_carry_hint_and_view() -> None:
    message = check_scope_declarations()[0]
    assert message.hint is not None
    assert "required_scopes" in message.hint
    assert message.obj.__name__ == "Undeclared"
    assert message.is_serious()

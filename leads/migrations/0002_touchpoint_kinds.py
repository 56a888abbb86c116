"""Seed the managed list of touchpoint kinds with the codes the API accepts."""

from django.db import migrations

KINDS = [
    # code, label, high intent, description
    ("page_view", "Page view", False, "A web page visit; the URL is in properties.url."),
    ("content_download", "Content download", False, "A gated asset: e-book, report."),
    ("email_open", "E-mail open", False, "A marketing e-mail was opened."),
    ("email_click", "E-mail click", False, "A link in a marketing e-mail was clicked."),
    ("form_submit", "Form submission", False, "Any web form other than a demo request."),
    ("webinar_registered", "Webinar registration", False, "Registered for a webinar."),
    ("webinar_attended", "Webinar attendance", False, "Attended a webinar live."),
    ("demo_request", "Demo request", True, "Asked to see the product or talk to sales."),
    ("cart_add", "Added to cart", True, "Put a plan or product in the cart."),
    ("trial_signup", "Trial sign-up", True, "Started a free trial."),
    ("chat", "Chat conversation", False, "Talked to us in the website chat."),
    ("unsubscribe", "Unsubscribe", False, "Opted out of marketing e-mail."),
    ("email_bounce", "E-mail bounce", False, "A marketing e-mail bounced."),
]


def add_kinds(apps, schema_editor):
    TouchpointKind = apps.get_model("leads", "TouchpointKind")
    for code, label, high_intent, description in KINDS:
        TouchpointKind.objects.update_or_create(
            code=code,
            defaults={
                "label": label,
                "is_high_intent": high_intent,
                "description": description,
            },
        )


def remove_kinds(apps, schema_editor):
    TouchpointKind = apps.get_model("leads", "TouchpointKind")
    TouchpointKind.objects.filter(code__in=[k[0] for k in KINDS]).delete()


class Migration(migrations.Migration):
    dependencies = [("leads", "0001_initial")]
    operations = [migrations.RunPython(add_kinds, remove_kinds)]

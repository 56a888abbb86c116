"""Serializers of the scoring API: models with their rules and rescore progress."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from scoring import selectors
from scoring.models import ModelSuggestion, ScoringModel, ScoringRule
from scoring.services.suggestions import WAIT_MAX_SECONDS
from scoring.suggestion import OUTCOMES
from scoring.validation import RULE_INPUT_FIELDS


class ScoringRuleSerializer(serializers.ModelSerializer):
    # Blank for the kinds that do not use them (an engagement rule has no
    # attribute operator), so the schema must allow "".
    operator = serializers.ChoiceField(
        choices=ScoringRule.Operator.choices, allow_blank=True, read_only=True
    )
    property_operator = serializers.ChoiceField(
        choices=ScoringRule.Operator.choices, allow_blank=True, read_only=True
    )

    class Meta:
        model = ScoringRule
        fields = ["id", "position", *RULE_INPUT_FIELDS]
        read_only_fields = fields


class ProgressSerializer(serializers.Serializer):
    """The rescore that publishing started (see scoring.selectors.RescoreProgress)."""

    state = serializers.ChoiceField(
        choices=["none", "running", "finished", "stopped", "failed"],
        help_text="`none`: never rescored by a publish; `stopped`: a newer model "
        "was published before it ended; `failed`: a part of the rescore failed, "
        "so the publish was undone (the model is a draft again and the model it "
        "replaced is active).",
    )
    total = serializers.IntegerField(help_text="Leads to rescore.")
    done = serializers.IntegerField(help_text="Leads rescored so far.")
    percent = serializers.IntegerField()
    finished_at = serializers.DateTimeField(allow_null=True)
    failed_at = serializers.DateTimeField(allow_null=True)
    error = serializers.CharField(
        allow_blank=True, help_text="What failed, when `state` is `failed`."
    )


class ScoringModelSerializer(serializers.ModelSerializer):
    published_by = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )
    rules_count = serializers.IntegerField(read_only=True)
    progress = serializers.SerializerMethodField()

    class Meta:
        model = ScoringModel
        fields = [
            "id",
            "name",
            "version",
            "status",
            "mql_threshold",
            "min_fit_score",
            "default_half_life_days",
            "grade_a_min",
            "grade_b_min",
            "grade_c_min",
            "notes",
            "created_at",
            "published_at",
            "published_by",
            "rules_count",
            "progress",
        ]
        read_only_fields = fields

    @extend_schema_field(ProgressSerializer)
    def get_progress(self, model: ScoringModel) -> dict[str, Any]:
        return ProgressSerializer(selectors.model_progress(model)).data


class ScoringModelDetailSerializer(ScoringModelSerializer):
    rules = ScoringRuleSerializer(many=True, read_only=True)

    class Meta(ScoringModelSerializer.Meta):
        fields = [*ScoringModelSerializer.Meta.fields, "rules"]
        read_only_fields = fields


class AttributeKeySerializer(serializers.Serializer):
    key = serializers.CharField(help_text="The key in the leads' `attributes`.")
    label = serializers.CharField(help_text="What the pages call it.")
    path = serializers.CharField(
        help_text="What a rule's `attribute` says to test it: `attributes.<key>`."
    )
    leads = serializers.IntegerField(help_text="Sampled leads that have the key.")


class AttributeKeysSerializer(serializers.Serializer):
    """The keys of the leads' attributes (scoring.suggestions.attribute_keys)."""

    keys = AttributeKeySerializer(
        many=True,
        help_text="Keys a rule can test, the most frequent first (ties by key).",
    )
    sampled = serializers.IntegerField(
        help_text="Leads read: the newest ones that were not erased, at most "
        "20,000; below that the counts are exact."
    )


class AttributeValueSerializer(serializers.Serializer):
    value = serializers.CharField(
        help_text="Its most frequent spelling (values differing only in case or "
        "surrounding spaces are one value, as rules compare them)."
    )
    leads = serializers.IntegerField(help_text="Sampled leads with this value.")


class AttributeValuesSerializer(serializers.Serializer):
    """One key's most frequent values (scoring.suggestions.attribute_values)."""

    key = serializers.CharField()
    label = serializers.CharField()
    values = AttributeValueSerializer(
        many=True,
        help_text="At most 10, the most frequent first: text, numbers and yes/no "
        "values up to 200 characters (no blanks, nulls, lists or objects).",
    )
    leads = serializers.IntegerField(
        help_text="Sampled leads that have the key, with any value."
    )
    sampled = serializers.IntegerField(help_text="Leads read, as for the keys.")


class SuggestWaitSerializer(serializers.Serializer):
    """How long the suggest request waits for its run (query string)."""

    wait = serializers.IntegerField(
        min_value=0,
        max_value=WAIT_MAX_SECONDS,
        default=20,
        error_messages={
            "invalid": "Give whole seconds from 0 to 25.",
            "min_value": "Give whole seconds from 0 to 25.",
            "max_value": "Give whole seconds from 0 to 25: longer than 25 s, "
            "poll the run's url instead.",
        },
    )


class SuggestRequestSerializer(serializers.Serializer):
    """What to fit suggested points to
    (scoring.services.suggestions.suggestion_request)."""

    outcome = serializers.ChoiceField(
        choices=list(OUTCOMES),
        help_text="The stage a lead must have reached: `sql` or `customer`.",
        error_messages={
            "invalid_choice": "Unknown outcome {input!r}: choose sql or customer "
            "(the stage a lead must have reached to count as a success)."
        },
    )
    until = serializers.DateField(
        required=False,
        allow_null=True,
        help_text="Fit only on leads created before this day (UTC); default: 60 "
        "days ago, so that they had time to reach the outcome.",
    )
    name = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=120,
        default="",
        help_text="The draft's name (default: Suggested points).",
    )


class SuggestionSerializer(serializers.Serializer):
    """The draft a suggestion created, with its validation on the later leads."""

    id = serializers.IntegerField(help_text="The draft's id.")
    name = serializers.CharField()
    version = serializers.IntegerField()
    outcome = serializers.CharField()
    until = serializers.DateField()
    train_leads = serializers.IntegerField(help_text="The earliest 80% of the leads.")
    test_leads = serializers.IntegerField(help_text="The leads created after them.")
    auc_active = serializers.FloatField(
        allow_null=True,
        help_text="ROC AUC of the active model's scores on the test leads "
        "(null without an active model).",
    )
    auc_suggested = serializers.FloatField(
        help_text="ROC AUC of the draft's scores on the same leads."
    )
    rules = serializers.IntegerField(help_text="Rules with points the draft got.")
    mql_threshold = serializers.DecimalField(max_digits=9, decimal_places=2)


class ModelSuggestionSerializer(serializers.ModelSerializer):
    """A suggestion run: its stage and progress, then its draft and AUCs."""

    # Blank until the run starts, so the schema must allow "".
    stage = serializers.ChoiceField(
        choices=ModelSuggestion.Stage.choices,
        allow_blank=True,
        read_only=True,
        help_text="Once running: reading, candidates, fitting, validating or "
        "drafting (blank while queued).",
    )
    percent = serializers.IntegerField(
        read_only=True, help_text="The whole run's progress, 0 to 100."
    )
    progress_text = serializers.CharField(
        read_only=True, help_text="Where the run is, in words."
    )
    url = serializers.SerializerMethodField(help_text="Where to poll this run.")
    result = SuggestionSerializer(
        read_only=True,
        allow_null=True,
        help_text="Once done: the draft's figures (as the command prints them).",
    )

    class Meta:
        model = ModelSuggestion
        fields = [
            "id",
            "url",
            "status",
            "stage",
            "done",
            "total",
            "percent",
            "progress_text",
            "outcome",
            "cut_off",
            "name",
            "error",
            "draft",
            "auc_active",
            "auc_suggested",
            "result",
            "created_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields
        extra_kwargs = {
            "status": {"help_text": "queued, running, done or failed."},
            "done": {"help_text": "How much of the stage is done."},
            "total": {"help_text": "The stage's total (leads, fits or rules)."},
            "error": {"help_text": "Once failed: why, and what to change."},
            "draft": {"help_text": "Once done: the draft's id."},
        }

    def get_url(self, suggestion: ModelSuggestion) -> str:
        return reverse("scoring-model-suggestion", args=[suggestion.id])

"""SageMaker Model Monitor's file formats as JSON Schema, field by field from its docs:
"Schema for Statistics (statistics.json file)", "Schema for Constraints (constraints.json
file)" and "Schema for Violations (constraint_violations.json file)". Extra members are
allowed, as the docs provision for custom statistics."""

from __future__ import annotations

from typing import Any

NUMBER = {"type": "number"}
COMMON = {"type": "object", "required": ["num_present", "num_missing"],
          "properties": {"num_present": NUMBER, "num_missing": NUMBER}}
KLL_BUCKET = {"type": "object", "required": ["lower_bound", "upper_bound", "count"],
              "properties": {"lower_bound": NUMBER, "upper_bound": NUMBER, "count": NUMBER}}
NUMERICAL = {
    "type": "object",
    "required": ["common", "mean", "sum", "std_dev", "min", "max", "distribution"],
    "properties": {
        "common": COMMON, "mean": NUMBER, "sum": NUMBER, "std_dev": NUMBER, "min": NUMBER,
        "max": NUMBER,
        "distribution": {"type": "object", "required": ["kll"], "properties": {"kll": {
            "type": "object", "required": ["buckets"],
            "properties": {"buckets": {"type": "array", "items": KLL_BUCKET}}}}},
    },
}
STRING = {
    "type": "object", "required": ["common", "distinct_count", "distribution"],
    "properties": {
        "common": COMMON, "distinct_count": NUMBER,
        "distribution": {"type": "object", "required": ["categorical"], "properties": {
            "categorical": {"type": "object", "required": ["buckets"], "properties": {
                "buckets": {"type": "array", "items": {
                    "type": "object", "required": ["value", "count"],
                    "properties": {"value": {"type": "string"}, "count": NUMBER}}}}}}},
    },
}
STATISTICS: dict[str, Any] = {
    "type": "object", "required": ["version", "dataset", "features"],
    "properties": {
        "version": NUMBER,
        "dataset": {"type": "object", "required": ["item_count"],
                    "properties": {"item_count": NUMBER}},
        "features": {"type": "array", "minItems": 1, "items": {
            "type": "object", "required": ["name", "inferred_type"],
            "properties": {"name": {"type": "string"},
                           "inferred_type": {"enum": ["Fractional", "Integral", "String",
                                                      "Unknown"]},
                           "numerical_statistics": NUMERICAL, "string_statistics": STRING},
            "oneOf": [{"required": ["numerical_statistics"]},
                      {"required": ["string_statistics"]}]}},
    },
}
CONSTRAINTS: dict[str, Any] = {
    "type": "object", "required": ["version", "features", "monitoring_config"],
    "properties": {
        "version": NUMBER,
        "features": {"type": "array", "minItems": 1, "items": {
            "type": "object", "required": ["name", "inferred_type", "completeness"],
            "properties": {
                "name": {"type": "string"},
                "inferred_type": {"enum": ["Integral", "Fractional", "String", "Unknown"]},
                "completeness": {"type": "number", "minimum": 0, "maximum": 1},
                "num_constraints": {"type": "object", "required": ["is_non_negative"],
                                    "properties": {"is_non_negative": {"type": "boolean"}}},
                "string_constraints": {"type": "object", "required": ["domains"],
                                       "properties": {"domains": {
                                           "type": "array", "items": {"type": "string"}}}}}}},
        "monitoring_config": {
            "type": "object",
            "required": ["evaluate_constraints", "emit_metrics", "datatype_check_threshold",
                         "domain_content_threshold", "distribution_constraints"],
            "properties": {
                "evaluate_constraints": {"enum": ["Enabled", "Disabled"]},
                "emit_metrics": {"enum": ["Enabled", "Disabled"]},
                "datatype_check_threshold": NUMBER, "domain_content_threshold": NUMBER,
                "distribution_constraints": {
                    "type": "object",
                    "required": ["perform_comparison", "comparison_threshold",
                                 "comparison_method"],
                    "properties": {
                        "perform_comparison": {"enum": ["Enabled", "Disabled"]},
                        "comparison_threshold": NUMBER,
                        "comparison_method": {"enum": ["Simple", "Robust"]},
                        "categorical_comparison_threshold": NUMBER,
                        "categorical_drift_method": {"enum": ["LInfinity", "ChiSquared"]}}}}},
    },
}
CHECK_TYPES = ["data_type_check", "completeness_check", "baseline_drift_check",
               "missing_column_check", "extra_column_check", "categorical_values_check"]
VIOLATIONS: dict[str, Any] = {
    "type": "object", "required": ["violations"],
    "properties": {"violations": {"type": "array", "items": {
        "type": "object", "required": ["feature_name", "constraint_check_type", "description"],
        "properties": {"feature_name": {"type": "string"},
                       "constraint_check_type": {"enum": CHECK_TYPES},
                       "description": {"type": "string"}}}}},
}

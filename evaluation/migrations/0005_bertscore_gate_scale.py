"""The BERTScore gate moves to rescaled F1's own scale (issue 18 item 4): a golden dataset still on
the old stretched scale's 0.80 gets the gate calibrated on dev pairs, through the audited service."""

from django.db import migrations

OLD_GATE = 0.80
NEW_GATE = 0.42  # evaluation/data/bertscore_calibration.json "gate" when this migration was written


def forwards(apps, schema_editor):
    # The real service (not the historical model): the change must be in the audit log's hash chain,
    # which only audit.services writes; GoldenDataset's fields are unchanged since 0001.
    from evaluation.models import GoldenDataset
    from evaluation.services import dataset_thresholds_update

    for dataset in GoldenDataset.objects.all():
        if dataset.thresholds.get("bertscore_min") == OLD_GATE:
            dataset_thresholds_update(
                dataset=dataset,
                thresholds={"bertscore_min": NEW_GATE},
                actor="system:migration",
                reason="BERTScore is reported on rescaled F1's own scale; the gate is the one fitted on dev judged "
                "pairs (evaluation/data/bertscore_calibration.json), not 0.80 on a stretched scale",
            )


class Migration(migrations.Migration):
    dependencies = [
        ("evaluation", "0004_golden_parts"),
        ("audit", "0012_action_plain_string"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]

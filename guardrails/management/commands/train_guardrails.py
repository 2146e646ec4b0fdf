"""Train the prompt-injection classifier and register it as a new guardrail policy version."""

import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from chat.embeddings import MODEL_NAME, embed_training_texts
from guardrails import injection, scope
from guardrails.policy import DEFAULT_POLICY, validate_policy
from registry.models import AliasName, ComponentKind, ComponentVersion
from registry.rollout.deployments import version_promote_request
from registry.rollout.targets import DeploymentError
from registry.selectors import release_for_alias
from registry.services import RegistryError, component_version_register

DATA = Path(__file__).resolve().parents[2] / "data" / "injection_train.jsonl"


class Command(BaseCommand):
    help = (
        "Train the injection classifier on guardrails/data/injection_train.jsonl and the hand-written sets, "
        "cross-validate it on the hand-written rows, train the scope guard, "
        "and register a guardrail policy version carrying it (the policy settings of the newest version, or the "
        "defaults)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--data", default=str(DATA))
        parser.add_argument(
            "--min-f1",
            type=float,
            default=0.85,
            help="Refuse to register below this F1 of rules + classifier at the policy's threshold, cross-validated "
            "on the hand-written sets (a floor under today's figure, to catch a regression)",
        )
        parser.add_argument(
            "--folds",
            type=int,
            default=settings.GUARDRAIL_TRAINING_FOLDS,
            help="Cross-validation folds over the hand-written sets (default GUARDRAIL_TRAINING_FOLDS, 5); 0 skips "
            "the figures (the test suite)",
        )
        parser.add_argument(
            "--no-scope",
            action="store_true",
            help="Register without the scope guard's model (its check then skips); training it embeds ~3,000 messages",
        )
        parser.add_argument(
            "--promote",
            action="store_true",
            help="Cut a release from production with this policy and send it through the deployment pipeline",
        )

    def handle(self, *args, **opts):
        out = self.stdout.write
        started = time.perf_counter()
        latest = (
            ComponentVersion.objects.filter(component__kind=ComponentKind.GUARDRAIL_POLICY).order_by("-version").first()
        )
        config = latest.config if latest is not None else DEFAULT_POLICY
        problems = validate_policy(config)
        if problems:
            raise CommandError("the newest policy is not valid: " + " ".join(problems))
        threshold = float(
            ((config.get("checks") or {}).get("injection_classifier") or {}).get(
                "threshold", DEFAULT_POLICY["checks"]["injection_classifier"]["threshold"]
            )
        )
        folds = opts["folds"]
        if opts["promote"] and release_for_alias(AliasName.PRODUCTION) is None:  # fail before training, not after
            raise CommandError("nothing is in production yet: run seed_demo first (or leave out --promote)")

        def embed(texts):
            return embed_training_texts(texts, settings.EMBEDDING_CACHE_DIR)

        try:
            result = injection.train_joint(
                Path(opts["data"]), embed, embedder=MODEL_NAME, threshold=threshold, folds=folds
            )
        except (OSError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        m = result.metrics
        out(
            f"datasets {opts['data']} and the hand-written sets ({', '.join(injection.HAND_SETS)}), sha256 "
            f"{result.dataset_hash[:12]}… ({m['n_attack']} attacks, {m['n_benign']} benign), trained in "
            f"{time.perf_counter() - started:.1f} s"
        )
        if folds >= 2:
            layered = m["with_rules"]
            out(
                f"{m['split']}: {m['n_test']} hand-written rows ({m['n_test_attacks']} attacks), at the policy's "
                f"threshold {m['threshold']}:"
            )
            out(
                f"  classifier alone: precision {m['precision']:.4f}, recall {m['recall']:.4f}, F1 {m['f1']:.4f}, "
                f"false positives {m['false_positive_rate']:.2%}; ROC AUC {m['roc_auc']:.4f}"
            )
            out(
                f"  rules + classifier (what the policy does): precision {layered['precision']:.4f}, "
                f"recall {layered['recall']:.4f}, F1 {layered['f1']:.4f}, false positives "
                f"{layered['false_positive_rate']:.2%}"
            )
            out(
                "  rules + classifier at other thresholds: "
                + ", ".join(
                    f"{x['threshold']}: recall {x['recall']:.1%} / FP {x['false_positive_rate']:.2%}"
                    for x in m["sweep"]
                )
            )
            if layered["f1"] < opts["min_f1"]:
                raise CommandError(
                    f"F1 {layered['f1']:.3f} (rules + classifier) is under {opts['min_f1']}: not registered"
                )
        else:
            out("  not cross-validated (--folds 0): no held-out figures, and --min-f1 is not checked")
        bundle = {"injection": result.model}
        if not opts["no_scope"]:
            started = time.perf_counter()
            try:
                bundle["scope"] = scope.train(
                    embed,
                    scope.intent_files(settings.DATA_DIR),
                    embedder=MODEL_NAME,
                    cfg=(config.get("checks") or {}).get("scope") or DEFAULT_POLICY["checks"]["scope"],
                    folds=folds,
                )
            except (OSError, ValueError) as exc:
                raise CommandError(f"scope model: {exc}") from exc
            sm = bundle["scope"].metrics
            cv = sm.get("cross_validated_on_hand_written_scope_rows")
            figures = (
                f"{sm['folds']}-fold cross-validation on the hand-written scope rows: "
                f"{cv['refused_of_harmful_or_off_topic']:.1%} of {cv['n_refuse']} harmful or off-topic refused, "
                f"{cv['refused_of_in_scope']:.1%} of {cv['n_in_scope']} in-scope refused"
                if cv
                else "not cross-validated"
            )
            out(
                f"scope guard ({sm['n_train']} messages: {sm['classes']}), {figures} "
                f"(trained in {time.perf_counter() - started:.1f} s)"
            )
            m = {**m, "scope": sm}
        path = settings.ARTIFACT_DIR / f"injection-{result.dataset_hash[:12]}-{int(time.time())}.pkl"
        digest = injection.save(bundle, path)
        version = component_version_register(
            kind=ComponentKind.GUARDRAIL_POLICY,
            actor="system:train_guardrails",
            framework="guardrails: rules; injection and scope: logistic regression, TF-IDF + MiniLM vectors; presidio",
            artifact_uri=str(path),
            artifact_sha256=digest,
            training_date=timezone.now(),
            dataset_hash=result.dataset_hash,
            metrics=m,
            config=config,
            notes=(
                f"injection: recall {m['with_rules']['recall']:.4f} (rules + classifier), {m['recall']:.4f} "
                f"(classifier) at {m['threshold']}, cross-validated on {m['n_test_attacks']} hand-written attacks"
                if "with_rules" in m
                else f"injection classifier at {m['threshold']}, not cross-validated"
            ),
        )
        out(self.style.SUCCESS(f"registered {version.version_id} ({path.name}, sha256 {digest[:12]}…)"))
        if opts["promote"]:
            try:
                deployment = version_promote_request(
                    version=version,
                    actor="system:train_guardrails",
                    notes=f"{version.version_id}"
                    + (f", injection classifier F1 {m['f1']:.4f} (cross-validated)" if "f1" in m else ""),
                    reason=f"Serve guardrail policy {version.version_id}",
                )
            except (RegistryError, DeploymentError) as exc:
                raise CommandError(str(exc)) from exc
            out(
                self.style.SUCCESS(
                    f"release {deployment.release.number} entered the deployment pipeline as deployment "
                    f"{deployment.pk}: a worker runs its gate, staging and smoke test, then an ML or on-call "
                    "engineer approves it on /releases/deployments/ before it serves production"
                )
            )

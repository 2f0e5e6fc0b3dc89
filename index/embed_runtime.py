"""Faster runtimes for the embedding model: ONNX Runtime or OpenVINO (fp32 or bf16) on a
local ONNX export.

sentence-transformers' own ``backend="onnx"`` cannot be installed with the pinned
sentence-transformers 6.2 (its optimum-onnx needs transformers < 4.58) and its
``backend="openvino"`` pulls optimum-intel, which downgrades transformers and
replaces the CPU torch with a CUDA build. So the transformer is exported here,
once, with ``torch.onnx.export`` from the packaged weights (nothing is downloaded),
and both runtimes read that one file directly.

The export lives in a cache folder keyed by a digest of the source model, with a
small JSON record of its sha256 beside it: a file that does not match its record is
exported again. Tokenisation, mean pooling and normalisation stay in
``index.embedder``; a runtime only maps token arrays to the last hidden state.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, Protocol

import numpy as np

log = logging.getLogger("citeline.embedder")

EXPORT_NAME = "model.onnx"
RECORD_NAME = "model.onnx.json"
# Bumped when the export itself changes (inputs, opset, exporter), so old files are not reused.
EXPORT_VERSION = 1
OPSET = 18
# Source files whose bytes decide the exported graph.
_SOURCE_FILES = ("config.json", "model.safetensors", "pytorch_model.bin")


class ExportError(RuntimeError):
    """The model could not be exported or the export cannot be used."""


class HiddenStateRunner(Protocol):
    """Token arrays in, the transformer's last hidden state (batch, tokens, dims) out."""

    name: str

    def run(self, features: Mapping[str, np.ndarray]) -> np.ndarray: ...


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def source_digest(model_dir: Path) -> str:
    """What the export depends on: the weights, the config, the exporter's version."""
    import torch

    digest = hashlib.sha256(f"v{EXPORT_VERSION} opset{OPSET} torch{torch.__version__}".encode())
    for name in _SOURCE_FILES:
        path = model_dir / name
        if path.is_file():
            digest.update(name.encode())
            digest.update(sha256_of(path).encode())
    return digest.hexdigest()


def export_folder(cache_dir: Path, model_dir: Path) -> Path:
    return cache_dir / f"{model_dir.name}-{source_digest(model_dir)[:16]}"


def _verified(folder: Path) -> Path | None:
    """The export in ``folder`` if it is there and matches its recorded hash."""
    model, record = folder / EXPORT_NAME, folder / RECORD_NAME
    if not (model.is_file() and record.is_file()):
        return None
    try:
        expected = json.loads(record.read_text(encoding="utf-8"))["sha256"]
    except (OSError, ValueError, KeyError, TypeError):
        log.warning("embedder: %s is unreadable; exporting the model again", record)
        return None
    if sha256_of(model) != expected:
        log.warning(
            "embedder: %s does not match the sha256 recorded in %s (damaged or changed); "
            "exporting the model again",
            model,
            record,
        )
        return None
    return model


@contextlib.contextmanager
def _export_lock(folder: Path) -> Iterator[None]:
    # Two processes starting together (a server and an ingest) export once, not twice.
    with open(folder / ".lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def ensure_export(
    transformer: Any, sample: Mapping[str, Any], model_dir: Path, cache_dir: Path
) -> Path:
    """The verified ONNX file of ``transformer`` (a Hugging Face model), exported if needed.

    ``sample`` is one tokenised batch (torch tensors) giving the input names; the
    batch and sequence axes are exported as dynamic.
    """
    folder = export_folder(cache_dir, model_dir)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ExportError(f"cannot create the export folder {folder}: {exc}") from exc
    found = _verified(folder)
    if found is not None:
        return found
    with _export_lock(folder):
        found = _verified(folder)  # another process may have finished meanwhile
        if found is not None:
            return found
        return _export(transformer, sample, folder, model_dir)


def _last_hidden(transformer: Any, names: list[str]) -> Any:
    """The transformer with positional tensor inputs and one output, for the exporter."""
    import torch

    class LastHidden(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = transformer

        def forward(self, *tensors: torch.Tensor) -> torch.Tensor:
            return self.model(**dict(zip(names, tensors, strict=True))).last_hidden_state

    return LastHidden().eval()


def _export(transformer: Any, sample: Mapping[str, Any], folder: Path, model_dir: Path) -> Path:
    import torch

    names = [n for n in ("input_ids", "attention_mask", "token_type_ids") if n in sample]
    inputs = tuple(sample[n] for n in names)
    batch = torch.export.Dim("batch")
    tokens = torch.export.Dim("tokens", max=int(transformer.config.max_position_embeddings))
    target = folder / f".{EXPORT_NAME}.{os.getpid()}.tmp"
    started = time.perf_counter()
    log.warning("embedder: exporting %s to ONNX in %s (once)", model_dir.name, folder)
    try:
        with torch.inference_mode(False), torch.no_grad():
            program = torch.onnx.export(
                _last_hidden(transformer, names),
                inputs,
                dynamo=True,
                opset_version=OPSET,
                input_names=names,
                output_names=["last_hidden_state"],
                # One entry for the *tensors of forward, holding one spec per tensor.
                dynamic_shapes=(tuple({0: batch, 1: tokens} for _ in names),),
                verbose=False,
            )
        assert program is not None
        # One self-contained file: one hash covers everything a runtime reads.
        program.save(str(target), external_data=False)
        digest = sha256_of(target)
        os.replace(target, folder / EXPORT_NAME)
        record = {
            "sha256": digest,
            "source": str(model_dir),
            "inputs": names,
            "opset": OPSET,
            "torch": torch.__version__,
            "export_version": EXPORT_VERSION,
            "created_at": time.time(),
        }
        tmp_record = folder / f".{RECORD_NAME}.{os.getpid()}.tmp"
        tmp_record.write_text(json.dumps(record, indent=2), encoding="utf-8")
        os.replace(tmp_record, folder / RECORD_NAME)
    except Exception as exc:
        target.unlink(missing_ok=True)
        raise ExportError(f"exporting {model_dir.name} to ONNX failed: {exc}") from exc
    log.warning("embedder: export done in %.1f s", time.perf_counter() - started)
    return folder / EXPORT_NAME


class OnnxRuntimeRunner:
    """ONNX Runtime; one session serves concurrent threads (``run`` is thread-safe)."""

    name = "onnx"

    def __init__(
        self, path: Path, *, threads: int | None, device: str, throughput: bool = False
    ) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        if threads:
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
        providers = ["CPUExecutionProvider"]
        if device == "cuda":
            if "CUDAExecutionProvider" not in ort.get_available_providers():
                raise ExportError(
                    "CITELINE_EMBED_DEVICE=cuda with the onnx backend needs onnxruntime-gpu "
                    "in place of onnxruntime"
                )
            providers.insert(0, "CUDAExecutionProvider")
        self._session = ort.InferenceSession(str(path), options, providers=providers)
        self._inputs = [i.name for i in self._session.get_inputs()]

    def run(self, features: Mapping[str, np.ndarray]) -> np.ndarray:
        feed = {n: features[n] for n in self._inputs}
        return np.asarray(self._session.run(None, feed)[0])


class OpenVinoRunner:
    """OpenVINO on the same ONNX file, in fp32 (a CPU with bf16 would otherwise pick bf16
    on its own). Infer requests are not thread-safe: one per thread.

    ``throughput`` (ingest): OpenVINO's throughput hint splits the cores into streams
    (two single-threaded ones on 2 cores) and ``run_each`` keeps one batch in flight per
    stream; measured 1.3-1.4x the batches/s of one two-threaded stream on a loaded
    2-core machine (bench/embed_backends.py). A single question is slower that way, so
    the server does not use it."""

    name = "openvino"
    precision = "f32"

    def __init__(
        self, path: Path, *, threads: int | None, device: str, throughput: bool = False
    ) -> None:
        import openvino as ov

        if device != "cpu":
            raise ExportError(
                "the openvino backend runs on the CPU here; use the torch backend on CUDA"
            )
        config: dict[str, Any] = {"INFERENCE_PRECISION_HINT": self.precision}
        if threads:
            config["INFERENCE_NUM_THREADS"] = threads
        if throughput:
            config["PERFORMANCE_HINT"] = "THROUGHPUT"
        core = ov.Core()
        if self.precision == "bf16" and "BF16" not in core.get_property(
            "CPU", "OPTIMIZATION_CAPABILITIES"
        ):
            # OpenVINO then computes in f32: same vectors as ``openvino``, no speed-up, no
            # harm (it is the ingest default, so no warning on every ingest).
            log.info(
                "embedder: this CPU has no bf16 instructions (AVX512_BF16/AMX); the %s "
                "backend runs in f32, as the openvino backend does",
                self.name,
            )
        self._compiled = core.compile_model(core.read_model(str(path)), "CPU", config)
        self._inputs = [p.get_any_name() for p in self._compiled.inputs]
        self._local = threading.local()

    def run(self, features: Mapping[str, np.ndarray]) -> np.ndarray:
        request = getattr(self._local, "request", None)
        if request is None:
            request = self._local.request = self._compiled.create_infer_request()
        result = request.infer({n: features[n] for n in self._inputs})
        # The request's output buffer is reused by the next call: copy it out.
        return np.array(result[self._compiled.outputs[0]], copy=True)

    def run_each(
        self,
        batches: Iterable[Mapping[str, np.ndarray]],
        done: Callable[[int, Mapping[str, np.ndarray], np.ndarray], None],
    ) -> None:
        """Every batch, one in flight per stream. ``done(n, features, hidden)`` is called
        once per batch (in completion order, from OpenVINO's threads, one at a time per
        request); ``hidden`` is only valid during the call. The batches are consumed
        lazily, so preparing the next one overlaps the inference of the current ones."""
        import openvino as ov

        queue = ov.AsyncInferQueue(self._compiled, 0)  # 0: the compiled model's optimum
        failures: list[BaseException] = []

        def finished(request: Any, userdata: tuple[int, Mapping[str, np.ndarray]]) -> None:
            try:
                done(userdata[0], userdata[1], request.get_output_tensor(0).data)
            except BaseException as exc:  # raised again in the caller's thread
                failures.append(exc)

        queue.set_callback(finished)
        for n, features in enumerate(batches):
            if failures:
                break
            queue.start_async({name: features[name] for name in self._inputs}, (n, features))
        queue.wait_all()
        if failures:
            raise failures[0]


class OpenVinoBf16Runner(OpenVinoRunner):
    """OpenVINO computing in bfloat16 (8-bit mantissa, fp32 range) on CPUs with
    AVX512_BF16 or AMX: about twice fp32's batched throughput here, vectors within a
    cosine of ~3e-5 of torch's (bench/embed_backends.py). Weights stay the fp32
    export; OpenVINO converts them when it compiles the model."""

    name = "openvino-bf16"
    precision = "bf16"


RUNNERS: dict[str, type[OnnxRuntimeRunner] | type[OpenVinoRunner]] = {
    "onnx": OnnxRuntimeRunner,
    "openvino": OpenVinoRunner,
    "openvino-bf16": OpenVinoBf16Runner,
}

"""Exports under stress: an overwrite touches the live version in one atomic step, modes a
server can read, version links where the file system cannot swap, what a killed export
leaves, export_all's versions, manifest and refusals, the committed exports."""

from __future__ import annotations

import json
import os
import stat
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

import hea_zoo
from hea_zoo import files
from tests.support import ROOT
from tests.support.files import leftovers

EXPORTED = ROOT / "exported"


@pytest.fixture(scope="module")
def tiny_cvae():
    from hea_zoo.models import train_default_generator

    return train_default_generator("cvae", hea_zoo.load_dataset(), epochs=2, verbose=0)


def _export():
    from hea_zoo.serving import export

    return export


def test_overwrite_touches_the_live_version_in_one_atomic_step(tiny_cvae, tmp_path, monkeypatch):
    """Proof by construction: while re-exporting version 1, the only filesystem operation
    on ``cvae/1`` is one atomic swap with the complete staged folder."""
    export = _export()
    export.export_model(tiny_cvae, tmp_path, "cvae")
    live = os.fspath(tmp_path / "cvae" / "1")
    calls = []

    def spy(module, name):
        real = getattr(module, name)

        def wrapped(*args, **kwargs):
            calls.append((name, *[os.fspath(a) for a in args if isinstance(a, (str, os.PathLike))]))
            return real(*args, **kwargs)

        monkeypatch.setattr(module, name, wrapped)

    import shutil

    for module, name in ((os, "rename"), (os, "replace"), (os, "unlink"), (os, "rmdir"), (shutil, "rmtree"),
                         (files, "exchange_paths")):  # fmt: skip
        spy(module, name)
    result = export.export_model(tiny_cvae, tmp_path, "cvae", version=1, overwrite=True)
    monkeypatch.undo()
    touching = [c for c in calls if live in c[1:]]
    assert len(touching) == 1 and touching[0][0] == "exchange_paths", touching
    staged = touching[0][1]
    assert Path(staged).name.startswith(".v1.") and ".tmp" in Path(staged).name
    assert result.replaced and (tmp_path / "cvae" / "1" / "saved_model.pb").is_file()
    assert not (tmp_path / "cvae" / "1").is_symlink()
    assert leftovers(tmp_path) == []


def test_exports_are_readable_by_a_server_user(tiny_cvae, tmp_path, umask022):
    export = _export()
    root = tmp_path / "exported"
    export.export_model(tiny_cvae, root, "cvae")
    export.export_model(tiny_cvae, root, "cvae", version=1, overwrite=True)
    entries = [root, *root.rglob("*")]
    assert len(entries) > 8
    for entry in entries:
        mode = stat.S_IMODE(entry.stat().st_mode)
        assert mode == (0o755 if entry.is_dir() else 0o644), (entry, oct(mode))


def test_version_links_where_the_file_system_cannot_swap(tiny_cvae, tmp_path, monkeypatch):
    """NFS-like: no atomic swap. Versions become links to hidden folders; TensorFlow
    loads through them; an overwrite switches the link; the manifest lists files under
    the version name whatever the layout."""
    import tensorflow as tf

    export = _export()
    real = tmp_path / "real"
    export.export_model(tiny_cvae, real, "cvae")  # the old layout: a real folder
    monkeypatch.setattr(files, "exchange_paths", lambda a, b: False)
    monkeypatch.setattr(files, "_LINK_LAYOUT", {})
    linked = tmp_path / "linked"
    export.export_model(tiny_cvae, linked, "cvae")
    version = linked / "cvae" / "1"
    assert version.is_symlink() and os.readlink(version).startswith(".v1-")
    z = np.zeros((3, tiny_cvae.latent_dim), np.float32)
    c = np.float32([[80.0, 40.0]] * 3)
    loaded = tf.saved_model.load(str(version)).signatures["serving_default"]
    got = loaded(z=tf.constant(z), condition=tf.constant(c))["composition"].numpy()
    np.testing.assert_allclose(got, tiny_cvae.decode(z, c).numpy(), atol=1e-6)
    assert export.existing_versions(linked / "cvae") == [1]
    assert export.next_version(linked, "cvae") == 2
    first = os.readlink(version)
    export.export_model(tiny_cvae, linked, "cvae", version=1, overwrite=True)
    assert os.readlink(version) != first
    # The previous folder outlives the switch (a reader may be resolving the old link);
    # the next export clears it once it is old.
    assert (linked / "cvae" / first / "saved_model.pb").is_file()
    past = time.time() - 2 * files.STALE_SECONDS
    os.utime(linked / "cvae" / first, (past, past))
    export.export_model(tiny_cvae, linked, "cvae")
    assert not (linked / "cvae" / first).exists()
    assert export.existing_versions(linked / "cvae") == [1, 2]
    assert {os.readlink(v) for v in (linked / "cvae" / "1", linked / "cvae" / "2")} == {
        p.name for p in (linked / "cvae").iterdir() if p.name.startswith(".")
    }
    listing = export.artifact_files(linked)
    assert {k.replace("cvae/2/", "cvae/1/") for k in listing} == set(export.artifact_files(real))
    assert "cvae/1/saved_model.pb" in listing and not any("/." in k or k.startswith(".") for k in listing)
    # An old-layout real folder becomes a link at its first overwrite here.
    export.export_model(tiny_cvae, real, "cvae", version=1, overwrite=True)
    assert (real / "cvae" / "1").is_symlink() and (real / "cvae" / "1" / "saved_model.pb").is_file()
    assert leftovers(tmp_path) == []


def test_next_export_clears_what_a_killed_export_left(tiny_cvae, tmp_path):
    export = _export()
    export.export_model(tiny_cvae, tmp_path, "cvae")
    staged = tmp_path / "cvae" / ".v2.0123456789abcdef.tmp"
    (staged / "variables").mkdir(parents=True)
    (staged / "saved_model.pb").write_bytes(b"half")
    onnx_tmp = tmp_path / ".cvae.0123456789abcdef.tmp.onnx"
    onnx_tmp.write_bytes(b"half")
    past = time.time() - 2 * files.STALE_SECONDS
    for entry in (staged, onnx_tmp):
        os.utime(entry, (past, past))
    assert export.next_version(tmp_path, "cvae") == 2  # a staging folder is not a version
    export.export_model(tiny_cvae, tmp_path, "cvae")
    assert not staged.exists() and not onnx_tmp.exists()
    assert export.existing_versions(tmp_path / "cvae") == [1, 2]


@pytest.mark.slow
def test_export_all_from_saved_models_writes_versions_and_a_true_manifest(tmp_path):
    export = _export()
    from hea_zoo import workflows
    from hea_zoo.errors import ModelFileError, UsageError
    messages = []
    from tests.support.exports import committed_names

    names = committed_names()  # the flow once exported/ holds it
    manifest_path = workflows.export_all(
        tmp_path, from_dir=EXPORTED / "keras", models=names[:-1], n_per_condition=10, progress=messages.append,
        command="hea-zoo export --all --from-dir exported/keras",
    )  # fmt: skip
    manifest = json.loads(manifest_path.read_text())
    assert manifest["files"] == export.artifact_files(tmp_path, exclude=("MANIFEST.json", "README.md"))
    assert set(manifest["models"]) == set(names)
    for name, entry in manifest["models"].items():
        assert entry["export_version"] == 1 and entry["files"]["saved_model"] == f"{name}/1"
        assert entry["bytes"]["onnx"] == manifest["files"][f"{name}.onnx"]["bytes"]
        assert (tmp_path / "keras" / f"{name}.keras").is_file()
    assert set(manifest["models"]["cvae"]["metrics"]) >= {"mape_surrogate_percent", "mape_oracle_percent", "cosine_similarity"}
    assert any("exporting version 1" in m for m in messages) and len(messages) < 20
    # A second run is the next version; ONNX files hold it; nothing was overwritten.
    again = json.loads(workflows.export_all(tmp_path, from_dir=EXPORTED / "keras", models=names[:-1], n_per_condition=10).read_text())
    assert {e["export_version"] for e in again["models"].values()} == {2}
    assert export.read_onnx_metadata(tmp_path / "cvae.onnx")["export_version"] == 2
    assert "cae/1/saved_model.pb" in again["files"] and "cae/2/saved_model.pb" in again["files"]
    with pytest.raises(UsageError, match="^overwrite: .*already exists"):
        workflows.export_all(tmp_path, from_dir=EXPORTED / "keras", models=names[:-1], version=2)
    with pytest.raises(UsageError, match="^version: .*older than the exported version"):
        workflows.export_all(tmp_path, from_dir=EXPORTED / "keras", models=names[:-1], version=1, overwrite=True)


def test_export_all_refuses_before_any_work(tmp_path):
    export = _export()
    from hea_zoo import workflows
    from hea_zoo.errors import ModelFileError, UsageError
    source = tmp_path / "saved"
    source.mkdir()
    with pytest.raises(ModelFileError, match="^from_dir: .*no surrogate.keras there"):
        workflows.export_all(tmp_path / "out", from_dir=source)
    with zipfile.ZipFile(source / "surrogate.keras", "w") as archive:
        archive.writestr("config.json", "{not json")
    with pytest.raises(ModelFileError, match="surrogate.keras is not a hea_zoo model file, or it is damaged"):
        workflows.export_all(tmp_path / "out", from_dir=source)
    (tmp_path / "out" / "cae" / "3").mkdir(parents=True)
    with pytest.raises(UsageError, match="cae/3 already exists"):
        workflows.export_all(tmp_path / "out", from_dir=source, version=3)
    assert not (tmp_path / "out" / "MANIFEST.json").exists()


def test_committed_exports_read_in_either_layout():
    export = _export()
    for name in ("cae", "cvae", "wcgan", "surrogate"):
        assert export.existing_versions(EXPORTED / name) == [1]
    listing = export.artifact_files(EXPORTED, exclude=("MANIFEST.json", "README.md"))
    assert listing == json.loads((EXPORTED / "MANIFEST.json").read_text())["files"]

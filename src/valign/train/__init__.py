"""valign.train: pretraining, supervised fine-tuning, reward and cost models, DPO, and online
RL with a safety signal, on Hugging Face transformers and TRL.

Each method is one function, settings in (a pydantic model, loadable from YAML) and a model
folder out; :func:`run_align` iterates them over rounds of feedback. See ``docs/alignment.md``.

    from valign.train import SFTSettings, sft
    result = sft("runs/demo/pretrain/model", Path("sft.jsonl"), Path("runs/sft"), SFTSettings())
"""

from typing import TYPE_CHECKING

from valign.lazy import lazy_face

if TYPE_CHECKING:
    from valign.train.align import AlignConfig, run_align
    from valign.train.common import LoraSettings, TrainResult, TrainSettings
    from valign.train.dpo import DPOSettings, train_dpo
    from valign.train.pretrain import PretrainConfig, PretrainResult, pretrain
    from valign.train.reward import RewardSettings, train_reward_model
    from valign.train.rewards import SafetySettings
    from valign.train.rl import RLSettings, train_rl
    from valign.train.sft import SFTSettings, sft

__all__ = [
    "AlignConfig",
    "DPOSettings",
    "LoraSettings",
    "PretrainConfig",
    "PretrainResult",
    "RLSettings",
    "RewardSettings",
    "SFTSettings",
    "SafetySettings",
    "TrainResult",
    "TrainSettings",
    "pretrain",
    "run_align",
    "sft",
    "train_dpo",
    "train_reward_model",
    "train_rl",
]

# Each name is imported on first use (valign.lazy); type checkers read the imports above.
if not TYPE_CHECKING:
    __getattr__, __dir__ = lazy_face(
        __name__,
        __all__,
        {
            "align": ["AlignConfig", "run_align"],
            "common": ["LoraSettings", "TrainResult", "TrainSettings"],
            "dpo": ["DPOSettings", "train_dpo"],
            "pretrain": ["PretrainConfig", "PretrainResult", "pretrain"],
            "reward": ["RewardSettings", "train_reward_model"],
            "rewards": ["SafetySettings"],
            "rl": ["RLSettings", "train_rl"],
            "sft": ["SFTSettings", "sft"],
        },
    )

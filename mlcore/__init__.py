"""The training core: TRL trainers behind one config dataclass and one `run()` per method.

Knows nothing of the web layer or the database. Importing this package stays cheap (no torch); the method
modules (`sft`, `reward`, `dpo`, `kto`), `runner` and `callbacks` pull in torch and TRL when imported.
"""

from workers.trainers.config import LoraSettings, TrainConfig, defaults_for

__all__ = ["LoraSettings", "TrainConfig", "defaults_for"]

"""The ML core: TRL trainers behind one config dataclass and one `run()` per method, reward scoring
(`score`), generation with a trained policy (`generate`) and a tiny local model for tests (`tiny`).

Knows nothing of the web, the database or Celery, so `app` and `workers` may both import it. Importing this
package stays cheap (no torch); the method modules (`sft`, `reward`, `dpo`, `kto`), `runner`, `callbacks`,
`score` and `generate` pull in torch and TRL when imported.
"""

from mlcore.config import LoraSettings, TrainConfig, defaults_for

__all__ = ["LoraSettings", "TrainConfig", "defaults_for"]

"""Built-in optimizers, schedulers, loggers and callbacks, registered lazily as "module:attr" strings
(contracts: :mod:`vlmkit.train.optim`, :mod:`vlmkit.train.loggers`)."""

from vlmkit.registry import Registries
from vlmkit.train.loggers import ComposerClass

OPTIM = "vlmkit.train.optim"

OPTIMIZERS = {
    "decoupled_adamw": "Composer's AdamW with weight decay decoupled from the learning rate",
    "adamw": "PyTorch AdamW (what VILA used); one fused kernel on a GPU",
    "decoupled_sgdw": "Composer's SGD with decoupled weight decay; momentum = betas[0]",
}
SCHEDULERS = {
    "cosine_with_warmup": "linear warmup, then cosine decay to alpha_f x the peak",
    "linear_with_warmup": "linear warmup, then linear decay to alpha_f x the peak",
    "constant_with_warmup": "linear warmup, then the peak learning rate",
}
LOGGERS = {
    "console": (ComposerClass("composer.loggers:ConsoleLogger"), "metrics printed to the console"),
    "file": (ComposerClass("composer.loggers:FileLogger", path_option=("filename", "log-rank{rank}.txt")),
             "metrics in the stage folder's log-rank{rank}.txt"),
    "tensorboard": (ComposerClass("composer.loggers:TensorboardLogger", "tensorboard", ("log_dir", "tensorboard")),
                    "TensorBoard event files in the stage folder's tensorboard/"),
    "mlflow": (ComposerClass("composer.loggers:MLFlowLogger", "mlflow"), "MLflow tracking (its options: experiment_name, tracking_uri, ...)"),
    "wandb": (ComposerClass("composer.loggers:WandBLogger", "wandb"), "Weights & Biases (its options: project, entity, ...)"),
}
CALLBACKS = {
    "memory_monitor": (ComposerClass("composer.callbacks:MemoryMonitor"), "GPU memory statistics each batch"),
    "optimizer_monitor": (ComposerClass("composer.callbacks:OptimizerMonitor"), "gradient and optimizer-state norms"),
    "nan_monitor": (ComposerClass("composer.callbacks:NaNMonitor"), "stop with an error at the first NaN loss"),
    "runtime_estimator": (ComposerClass("composer.callbacks:RuntimeEstimator"), "estimated time left, logged"),
}


def register(registry: Registries) -> None:
    for name, description in OPTIMIZERS.items():
        registry.optimizers.register(name, f"{OPTIM}:{name}", description=description)
    for name, description in SCHEDULERS.items():
        registry.schedulers.register(name, f"{OPTIM}:{name}", description=description)
    for name, (factory, description) in LOGGERS.items():
        registry.loggers.register(name, factory, description=description)
    for name, (factory, description) in CALLBACKS.items():
        registry.callbacks.register(name, factory, description=description)

"""The logger and callback conformance suites applied to the built-ins that need no extra package;
the file logger writes into the stage folder; a recipe's trainer.callbacks reach the trainer."""

from vlmkit.testing import CallbackConformance, LoggerConformance


class TestConsoleLogger(LoggerConformance):
    factory = "console"


class TestFileLogger(LoggerConformance):
    factory = "file"

    def test_writes_into_the_stage_folder(self, tmp_path):
        from vlmkit.testing.loggers import short_fit

        short_fit(tmp_path, loggers=[self.make(tmp_path)])
        assert (tmp_path / "log-rank0.txt").read_text().strip(), "the file logger wrote nothing under the stage folder"


class TestNaNMonitor(CallbackConformance):
    factory = "nan_monitor"


class TestOptimizerMonitor(CallbackConformance):
    factory = "optimizer_monitor"


class TestRuntimeEstimator(CallbackConformance):
    factory = "runtime_estimator"


class TestMemoryMonitor(CallbackConformance):
    factory = "memory_monitor"  # on the CPU it only warns that there is no GPU memory to report

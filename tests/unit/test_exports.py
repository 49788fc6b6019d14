"""The public surface is deliberate: adding or removing an export is a decision."""

from __future__ import annotations

import jobwire


def test_all_is_pinned() -> None:
    assert sorted(jobwire.__all__) == [
        "App",
        "BrokerUnavailable",
        "CallbackTimeout",
        "Client",
        "ConfigurationError",
        "DuplicateJob",
        "IllegalTransition",
        "InvalidArguments",
        "Job",
        "JobAlreadyFinished",
        "JobCancelled",
        "JobFailed",
        "JobNotFinished",
        "JobNotFound",
        "JobStatus",
        "JobwireError",
        "MissingDependency",
        "OwnerLimitReached",
        "Progress",
        "ResultNotAvailable",
        "StoreUnavailable",
        "Task",
        "UnknownTask",
        "UnstorableValue",
        "WaitTimeout",
        "Watch",
        "storable",
    ]


def test_every_export_exists_and_errors_share_one_base() -> None:
    for name in jobwire.__all__:
        obj = getattr(jobwire, name)
        assert obj.__module__.startswith("jobwire"), name
        if isinstance(obj, type) and issubclass(obj, Exception):
            assert issubclass(obj, jobwire.JobwireError), name
            assert obj.__doc__ and obj.__doc__.strip(), f"{name} needs a default message"
            assert obj().message == obj.__doc__.strip()

"""What one ansible-playbook run did, read from the report of the json stdout callback.

A module run is a task's result (a loop's items counted one by one) that
carries the module's invocation, or is hidden by no_log; controller-side
actions (set_fact, debug, include_tasks, this collection's requeue_after and
warn) return neither, and skipped results are no runs. A loop under no_log
hides its items, so it counts once.
"""

import datetime


def _results(host_result):
    """One task's result on one host as the results of its module runs (a loop's items one by one)."""
    items = host_result.get("results")
    return items if isinstance(items, list) and items and isinstance(items[0], dict) else [host_result]


def _ran_module(result):
    # A module's result carries its invocation; a result hidden by no_log only says it is censored.
    # Controller-side actions (set_fact, debug, include_tasks, requeue_after) carry neither.
    return not result.get("skipped") and ("invocation" in result or "censored" in result)


def module_runs(report):
    """Module runs in one ansible-playbook run, from the json stdout callback's `report`."""
    return sum(1 for play in report["plays"] for task in play["tasks"] for host in task["hosts"].values()
               for result in _results(host) if _ran_module(result))


def slowest_tasks(report, count=10):
    """The `count` slowest tasks of one run (seconds, module runs, name), from the json callback's times."""
    def seconds(task):
        duration = task["task"]["duration"]
        if "end" not in duration:
            return 0.0
        end, start = (datetime.datetime.fromisoformat(duration[key].rstrip("Z")) for key in ("end", "start"))
        return (end - start).total_seconds()
    rows = [(seconds(task), sum(1 for host in task["hosts"].values() for r in _results(host) if _ran_module(r)),
             task["task"]["name"]) for play in report["plays"] for task in play["tasks"]]
    return sorted(rows, key=lambda row: -row[0])[:count]

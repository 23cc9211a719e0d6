# A stdout callback for knockc's Ansible test: prints one JSON document with
# every task's result per host and the play's stats (ansible-core has no
# json callback of its own; community.general's is not in Debian's
# ansible-core package).
import json

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "stdout"
    CALLBACK_NAME = "report"

    def __init__(self):
        super(CallbackModule, self).__init__()
        self.tasks = []

    def _record(self, result, **extra):
        r = dict(result._result)
        r.update(extra)
        self.tasks.append({"task": result._task.get_name(), "host": result._host.get_name(), "result": r})

    def v2_runner_on_ok(self, result):
        self._record(result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._record(result, failed=True)

    def v2_runner_on_skipped(self, result):
        self._record(result, skipped=True)

    def v2_runner_on_unreachable(self, result):
        self._record(result, unreachable=True, failed=True)

    def v2_playbook_on_stats(self, stats):
        hosts = {}
        for h in sorted(stats.processed.keys()):
            hosts[h] = stats.summarize(h)
        print(json.dumps({"tasks": self.tasks, "stats": hosts}, default=str))

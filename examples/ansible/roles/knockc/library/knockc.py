#!/usr/bin/python3
# Ansible module for knockc: plan and apply a knock spec, or remove
# knockc's table. It runs knockc's own commands with --json and reads the
# documents described in docs/operations.md (format_version 1.x).

DOCUMENTATION = r'''
module: knockc
short_description: Apply a knockc spec (port knocking in nftables) in one atomic batch
description:
  - With C(state=present), plans the spec against the kernel and applies it
    with C(knockc apply). Nothing is sent when the kernel already matches
    (changed=false). Live knocks and grants survive unless a set must be
    replaced; the module then warns how many live entries are reset.
  - Check mode plans the NEW spec (from I(content), or I(spec) as it is on
    the target) and validates it; the diff is knockc's plan.
  - With C(state=absent), removes knockc's table (established sessions
    survive; the protected ports fall back to the host's firewall).
options:
  spec:
    description:
      - Path of the spec on the target. Mutually exclusive with I(content).
      - In check mode a task that would write this file (template, copy)
        has not written it, so the plan is of the file as it is; pass
        I(content) (e.g. a template lookup) to plan the new spec.
    type: path
  content:
    description: The spec itself (TOML), e.g. from a template lookup. Sent to knockc on stdin.
    type: str
  state:
    description: Whether knockc's table should be there.
    choices: [present, absent]
    default: present
    type: str
  table:
    description: With C(state=absent) and no spec, the table to remove.
    default: knockc
    type: str
  netns:
    description: Work in this network namespace (a name under /run/netns or a path); for tests and containers.
    type: str
  binary:
    description: The knockc program.
    default: knockc
    type: str
'''

EXAMPLES = r'''
- name: knock spec in the kernel
  knockc:
    content: "{{ lookup('template', 'knock.toml.j2') }}"

- name: knockc gone
  knockc:
    state: absent
'''

RETURN = r'''
plan:
  description: knockc's plan document (docs/operations.md), for state=present.
  type: dict
  returned: success
resets:
  description: Live set entries (knocks in progress, grants) the change resets.
  type: int
  returned: success
problems:
  description: The spec's problems (file, line, column, message) when it is invalid.
  type: list
  returned: failure
'''

import json

from ansible.module_utils.basic import AnsibleModule

MAJOR = "1"


def run_json(module, args, data=None):
    """Runs knockc with args and --json; returns (rc, document, stderr)."""
    rc, out, err = module.run_command(args + ["--json"], data=data, binary_data=True)
    try:
        doc = json.loads(out)
    except ValueError:
        module.fail_json(msg="knockc printed no JSON: %s" % (err.strip() or out.strip()), rc=rc, stderr=err)
    if str(doc.get("format_version", "")).split(".")[0] != MAJOR:
        module.fail_json(msg="knockc JSON format %r is not %s.x: upgrade this module" % (doc.get("format_version"), MAJOR))
    return rc, doc, err


def fail_from(module, rc, doc, err, **kw):
    e = doc.get("error") or {}
    module.fail_json(msg=e.get("message") or err.strip() or "knockc exited %d" % rc,
                     kind=e.get("kind"), problems=e.get("problems", []), rc=rc, stderr=err, **kw)


def plan_text(plan):
    """The human plan, as `knockc plan` prints it, from the JSON document."""
    marks = {"create": "+", "update": "~", "replace": "-/+", "destroy": "-"}
    lines = []
    for c in plan["changes"]:
        head = "%s %s %s" % (marks.get(c["action"], "?"), c["kind"], c["name"])
        if c["action"] == "replace":
            head += " must be replaced (resets %d live %s)" % (c["resets"], "entry" if c["resets"] == 1 else "entries")
        lines.append(head)
        lines.extend("    " + l for l in c["lines"])
    if plan["changes"]:
        lines.append("Plan: %d to add, %d to change, %d to destroy." % (plan["add"], plan["change"], plan["destroy"]))
    else:
        lines.append("No changes.")
    return "\n".join(lines) + "\n"


def reset_warning(module, plan):
    n = plan.get("resets", 0)
    if n:
        sets = [c["name"] for c in plan["changes"] if c["resets"]]
        module.warn("%d live %s (knocks in progress or grants) will be reset: %s must be replaced"
                    % (n, "entry" if n == 1 else "entries", ", ".join(sets)))


class Knockc(object):
    """Builds knockc command lines: the command, its flags, the spec."""

    def __init__(self, binary, netns):
        self.binary, self.netns = binary, netns

    def argv(self, cmd, *args):
        out = [self.binary, cmd]
        if self.netns:
            out += ["--netns", self.netns]
        return out + [a for a in args if a]


def present(module, k, spec_arg, data):
    if module.check_mode:
        rc, doc, err = run_json(module, k.argv("plan", spec_arg), data)
        if rc != 0:
            fail_from(module, rc, doc, err)
        reset_warning(module, doc)
        changed = bool(doc["changes"])
        module.exit_json(changed=changed, plan=doc, resets=doc.get("resets", 0),
                         diff={"prepared": plan_text(doc)} if changed else {})
    rc, doc, err = run_json(module, k.argv("apply", spec_arg), data)
    if rc != 0:
        fail_from(module, rc, doc, err)
    reset_warning(module, doc)
    changed = bool(doc.get("applied"))
    module.exit_json(changed=changed, plan=doc, resets=doc.get("resets", 0),
                     diff={"prepared": plan_text(doc)} if changed else {})


def absent(module, k, spec_arg, data, table):
    where = [spec_arg] if spec_arg else ["--table", table]
    rc, doc, err = run_json(module, k.argv("status", *where), data)
    if rc != 0:
        if (doc.get("error") or {}).get("kind") == "not_found":
            module.exit_json(changed=False)
        fail_from(module, rc, doc, err)
    diff = {"prepared": "- table %s\n" % doc["table"]}
    if module.check_mode:
        module.exit_json(changed=True, diff=diff)
    rc, out, err = module.run_command(k.argv("down", *where), data=data, binary_data=True)
    if rc != 0:
        module.fail_json(msg=err.strip().replace("knockc: ", "", 1), rc=rc, stderr=err)
    module.exit_json(changed=True, diff=diff)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            spec=dict(type="path"),
            content=dict(type="str"),
            state=dict(type="str", default="present", choices=["present", "absent"]),
            table=dict(type="str", default="knockc"),
            netns=dict(type="str"),
            binary=dict(type="str", default="knockc"),
        ),
        mutually_exclusive=[("spec", "content")],
        required_if=[("state", "present", ("spec", "content"), True)],
        supports_check_mode=True,
    )
    p = module.params
    binary = p["binary"]
    if "/" not in binary:
        binary = module.get_bin_path(binary, required=True)
    k = Knockc(binary, p["netns"])
    spec_arg, data = p["spec"], None
    if p["content"] is not None:
        spec_arg, data = "-", p["content"]
    if p["state"] == "present":
        present(module, k, spec_arg, data)
    absent(module, k, spec_arg, data, p["table"])


if __name__ == "__main__":
    main()

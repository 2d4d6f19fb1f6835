"""The neutral conversation types every adapter translates to and from.

Handlers take an `Incoming` and return a list of `Reply`; they never see Slack, Teams or the terminal.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Incoming:
    """One thing a user did: a message, or a click on a choice (`action` + `value`)."""

    user: str
    text: str = ""
    conversation: str = "console"
    thread: str | None = None
    action: str | None = None
    value: str | None = None
    user_name: str = ""
    organization: str = ""
    position: str = ""
    surface: str = "console"  # console | slack | teams
    direct: bool = True  # a DM / personal chat, as opposed to a mention in a shared channel
    files: tuple[dict, ...] = ()
    form: dict[str, Any] | None = None  # submitted form values (modal / Adaptive Card / terminal walk)
    # With `form`: a stable id of the form instance the user submitted, the same when that very form is
    # submitted again (a retry after an error, a double click), so a handler can make the submission
    # idempotent. Slack: "slack:<view id>"; Teams: "teams:card:<nonce>" (rendered into the card's data), else
    # "teams:<conversation>:<replyToId>" (the card activity); terminal: None (nothing to submit twice).
    submission: str | None = None
    # The `topic` of the post this refers to: the one whose thread a message was written in, or the one a
    # reaction was added to (see `Reply.topic`).
    topic: str | None = None


@dataclass(frozen=True)
class Choice:
    """A button: `action` names the handler, `value` is opaque data it gets back."""

    label: str
    action: str
    value: str = ""
    style: str = ""  # "" | primary | danger


@dataclass
class Field:
    """One input of a form. Adapters render it natively (Slack modal, Adaptive Card, terminal prompt)."""

    name: str
    label: str
    kind: str = "text"  # text | textarea | select | boolean | files
    required: bool = False
    options: list[tuple[str, str]] = field(default_factory=list)  # (value, label); value may be a path "A > B"
    max_length: int | None = None
    initial: Any = None
    hint: str = ""
    private: bool = False  # shown as 비공개 (e.g. subject info); never echoed to a channel
    suggest_action: str | None = None  # dispatched with the typed value for live suggestions


@dataclass
class Form:
    """A form to open; its submission comes back as `Incoming(action=form.action, form={name: value},
    value=form.state, submission=<the surface's id of this form instance>)`."""

    action: str
    title: str
    fields: list[Field]
    submit_label: str = "제출"
    state: str = ""  # opaque, returned as `Incoming.value` on submit
    errors: dict[str, str] = field(default_factory=dict)  # field name -> Korean message


@dataclass
class Reply:
    """What the bot says back, as data; adapters render it for their surface."""

    text: str
    choices: list[Choice] = field(default_factory=list)
    kind: str = "message"  # message | answer | decline | form | notice | error
    data: dict[str, Any] = field(default_factory=dict)  # structured content for richer renderers
    private: bool = False  # ephemeral where the surface supports it
    to_user: str | None = None  # deliver to this user's DM instead of the current conversation
    to_conversation: str | None = None  # deliver to a specific conversation (e.g. the triage channel)
    # Post under the post whose delivery key this is (a surface's own thread id is accepted too); a key the
    # surface has not posted in that conversation means no thread.
    thread: str | None = None
    form: Form | None = None  # open this form (kind="form"); with errors set, re-show it
    key: str | None = None  # idempotency key for out-of-band delivery (the outbox)
    # What the post is about, opaque to surfaces (an inquiry's receipt): kept with the post, so that a message
    # written in its thread comes back as `Incoming(action="thread.reply", value=topic, topic=topic)` and a
    # reaction to it as `Incoming(topic=topic)`.
    topic: str | None = None
    # Replace the earlier post whose delivery key this is, in place (e.g. a triage card after a status
    # change); where the surface has no such post, or cannot edit, nothing is posted.
    edit: str | None = None

"""The requester's side of 질의하기: the form, filing, 내 질의, viewing, rating, recommending, 재질의.

Handlers compute data; the words live in `knowledge/templates/inquiry_*.j2`. Subject info (대상자 정보)
only ever goes back to the requester or the assignee, privately, never to a channel.
"""
from __future__ import annotations

import json
import logging

from bot.inquiries.service import DONE, INFO_REQUESTED, MAX_TITLE, InquiryError, Invalid, _as_bool, delivery_key
from bot.core.messages import Choice, Field, Form, Incoming, Reply
from bot.core.privacy import extract, labels, find_personal_data, mask

from handlers.common import error_reply, rating_choices, render, words  # noqa: F401  (handlers.threads uses render)
from handlers.registry import action, command, pattern

log = logging.getLogger(__name__)

MAX_VALUE = 1500
FORM_FIELDS = ("title", "category", "type", "urgent", "public", "guideline", "organization", "position",
               "content", "subject_info", "files")


def _state(value: str | None) -> dict:
    try:
        data = json.loads(value or "{}")
        return data if isinstance(data, dict) else {}
    except ValueError:
        return {}


def build_form(services, incoming: Incoming, *, values: dict | None = None, question: str = "",
               errors: dict | None = None, parent: str = "") -> Form:
    """The 질의하기 form from the taxonomy; `values` fill it in again after a refusal."""
    v = values or {}
    inq = services.inquiries
    categories = inq.categories
    fields = [
        Field("title", "제목", required=True, max_length=MAX_TITLE, initial=v.get("title", ""),
              hint=words(services, "hint_title"), suggest_action="inquiry.similar"),
        Field("category", "업무분류", kind="select" if categories else "text", required=True,
              options=[(p, p) for p in categories], initial=v.get("category"),
              hint=words(services, "hint_category")),
        Field("type", "질의구분", kind="select", required=True, options=[(t, t) for t in inq.types],
              initial=v.get("type"), hint=words(services, "hint_type")),
        Field("urgent", "긴급 여부", kind="boolean", initial=_as_bool(v.get("urgent", False))),
        Field("public", "공개 여부", kind="boolean", initial=_as_bool(v.get("public", True)),
              hint=words(services, "hint_public")),
        Field("guideline", "지침문의 이관", kind="boolean", initial=_as_bool(v.get("guideline", False))),
        Field("organization", "소속기관", initial=v.get("organization", incoming.organization)),
        Field("position", "직위", initial=v.get("position", incoming.position)),
        Field("content", "질의내용", kind="textarea", max_length=4000, initial=v.get("content", ""),
              required=bool(parent),  # a re-inquiry is a new question: it needs one
              hint=words(services, "hint_content")),
        Field("subject_info", "대상자 정보", kind="textarea", private=True, initial=v.get("subject_info", ""),
              hint=words(services, "hint_subject")),
        Field("files", "첨부", kind="files", initial=v.get("files") or [],
              hint="jpg, jpeg, png, hwp, doc, docx, pdf"),
    ]
    # The state travels with the form (Slack keeps it in the view, or in slack_forms when too long) and
    # becomes the inquiry's `question`: only the question, guarded, never the personal data typed into it.
    state = {"q": mask(question)[:MAX_VALUE]}
    if parent:
        state["parent"] = parent
    return Form(action="inquiry.submit", title="질의하기 등록", fields=fields, submit_label="질의 등록",
                state=json.dumps(state, ensure_ascii=False), errors=dict(errors or {}))


def _form_reply(services, incoming, form: Form, question: str = "") -> list[Reply]:
    # A form may carry subject info back to its author: always private, never in a channel. Re-shown after a
    # submission (`incoming.form`), it answers that submission in place (the modal, the card), wherever the
    # form was opened: sent to the DM instead, it would lose what was typed and store it on the way.
    here = incoming.direct or incoming.form is not None
    return [Reply(render(services, "inquiry_form_intro", question=question), kind="form", form=form,
                  private=True, to_user=None if here else incoming.user)]


@command("질의하기", "질의", "질의 등록", "문의")
def open_form(incoming: Incoming, services) -> list[Reply]:
    return _form_reply(services, incoming, build_form(services, incoming))


@action("inquiry.open")
def open_from_answer(incoming: Incoming, services) -> list[Reply]:
    """From the answer's 질의하기 button: the value is the question the bot could not answer."""
    question = (incoming.value or "").strip()[:MAX_VALUE]
    title, pieces = extract(" ".join(question.split()))
    values = {"title": title[:MAX_TITLE], "content": ""}
    if pieces:
        values["subject_info"] = "\n".join(pieces)
    return _form_reply(services, incoming, build_form(services, incoming, values=values, question=question),
                       question=question)


@action("inquiry.similar")
def similar(incoming: Incoming, services) -> list[Reply]:
    """Live suggestions while the title is typed (the seed's 통합검색): public inquiries and FAQ."""
    title = mask(incoming.value or "")
    items = services.inquiries.similar(title, limit=5)
    choices = [Choice(s.title[:60], "inquiry.view" if s.kind == "inquiry" else "answer.show", s.id)
               for s in items]
    return [Reply(render(services, "inquiry_similar", items=items), choices=choices, kind="notice", private=True,
                  data={"suggestions": [s.__dict__ for s in items]})]


def _submitted(incoming: Incoming) -> dict:
    values = {k: v for k, v in (incoming.form or {}).items() if k in FORM_FIELDS}
    files = values.get("files")
    if not files:
        files = list(incoming.files)
    # form values come from the client (an Adaptive Card's data is free JSON): keep only file records
    values["files"] = [f for f in files if f] if isinstance(files, (list, tuple)) else []
    for k in ("title", "category", "type", "content", "subject_info", "organization", "position"):
        v = values.get(k)
        values[k] = "" if v is None else str(v)
    return values


@action("inquiry.submit")
def submit(incoming: Incoming, services) -> list[Reply]:
    inq = services.inquiries
    values = _submitted(incoming)
    state = _state(incoming.value)
    question = str(state.get("q") or "")
    parent = str(state.get("parent") or "")
    # Personal data in the public fields is never filed: the form comes back with it moved into the
    # subject info, so confirming once files the inquiry with the data where it belongs.
    moved_errors = {}
    pieces: list[str] = []
    for name, label in (("title", "제목"), ("content", "질의내용")):
        found = find_personal_data(values[name])
        if found:
            values[name], taken = extract(values[name], findings=found)
            pieces += taken
            moved_errors[name] = words(services, "personal_data_moved", label=label, found=labels(found))
    if pieces:
        values["subject_info"] = "\n".join(p for p in [values["subject_info"].strip(), *pieces] if p)
        errors = inq.validate(title=values["title"], category=values["category"], type=values["type"],
                              content=values["content"], subject_info=values["subject_info"],
                              attachments=values["files"], requester=incoming.user)
        errors.update(moved_errors)
        form = build_form(services, incoming, values=values, question=question, errors=errors, parent=parent)
        return _form_reply(services, incoming, form, question)
    if parent:
        return _submit_reinquiry(incoming, services, parent, values)
    try:
        i = inq.file(title=values["title"], category=values["category"], type=values["type"],
                     urgent=values.get("urgent"), public=values.get("public", True),
                     guideline=values.get("guideline"), requester=incoming.user,
                     requester_name=incoming.user_name, organization=values["organization"] or incoming.organization,
                     position=values["position"] or incoming.position, content=values["content"],
                     subject_info=values["subject_info"], attachments=values["files"], question=question,
                     source=incoming.surface, submission_id=incoming.submission, where=incoming.surface)
    except Invalid as e:
        form = build_form(services, incoming, values=values, question=question, errors=e.errors)
        return _form_reply(services, incoming, form, question)
    except InquiryError as e:
        return error_reply(services, str(e))
    # The same form submitted again (`incoming.submission`) gets the inquiry filed the first time: the same
    # receipt, and a triage card whose delivery key (per receipt) the outbox has already, so it goes out once.
    return filed_replies(services, incoming, i)


def filed_replies(services, incoming: Incoming, i, *, moved: str = "") -> list[Reply]:
    from handlers.triage import triage_card

    inq = services.inquiries
    receipt_text = render(services, "inquiry_receipt", i=i, due=i.due, remaining=inq.remaining_label(i),
                           moved=moved)
    return [
        # the requester's receipt: where it goes to their DM, its thread is the inquiry's conversation there
        Reply(receipt_text, kind="notice", private=True, key=delivery_key(i.receipt, "receipt"), topic=i.receipt,
              data={"receipt": i.receipt},
              choices=[Choice("내 질의", "inquiry.mine"), Choice("질의 보기", "inquiry.view", i.receipt)]),
        triage_card(services, i),
    ]


def _submit_reinquiry(incoming: Incoming, services, parent: str, values: dict) -> list[Reply]:
    from handlers.triage import triage_update

    try:
        child = services.inquiries.reinquire(parent, incoming.user, content=values["content"],
                                             title=values["title"] or None,
                                             subject_info=values["subject_info"] or None,
                                             submission_id=incoming.submission, where=incoming.surface)
    except Invalid as e:
        form = build_form(services, incoming, values=values, errors=e.errors, parent=parent)
        return _form_reply(services, incoming, form)
    except InquiryError as e:
        return error_reply(services, str(e))
    replies = [Reply(render(services, "inquiry_ack", what="reinquired", receipt=child.receipt,
                             parent=child.parent_receipt), kind="notice", private=True,
                     key=delivery_key(child.receipt, "receipt"), topic=child.receipt,
                     data={"receipt": child.receipt})]
    replies.append(triage_update(services, "reinquired", receipt=child.receipt, parent=child.parent_receipt))
    from handlers.triage import triage_card

    replies.append(triage_card(services, child))
    return replies


@command("내 질의", "내질의", "내 질의 목록")
@action("inquiry.mine")
def mine(incoming: Incoming, services) -> list[Reply]:
    inq = services.inquiries
    page = inq.mine(incoming.user, per_page=10)
    now = services.clock.now()
    items = [{"receipt": i.receipt, "title": i.title, "status": i.status, "remaining": inq.remaining_label(i, now),
              "parent": i.parent_receipt} for i in page.items]
    choices = [Choice(f"{i.receipt} {i.title[:30]}", "inquiry.view", i.receipt) for i in page.items[:5]]
    return [Reply(render(services, "inquiry_mine", items=items, total=page.total), choices=choices,
                  kind="message", private=True, data={"items": items, "total": page.total})]


def detail_choices(services, i, user: str) -> list[Choice]:
    choices: list[Choice] = []
    if i.has_subject and user in (i.requester, i.assignee):
        choices.append(Choice("대상자 정보 보기", "inquiry.subject", i.receipt))
    if user == i.requester:
        if i.receipt in services.inquiries.holding_personal_data(requester=user):
            choices.append(Choice("대상자 정보 삭제", "privacy.destroy", i.receipt))
        if i.status == INFO_REQUESTED:  # the way back on a surface with no thread under the request (terminal)
            choices.append(Choice("답장하기", "inquiry.reply", i.receipt))
        if i.status == DONE:
            if i.satisfaction is None:
                choices += rating_choices(i.receipt, "만족도 {n}점")
            choices.append(Choice("재질의", "inquiry.reinquire", i.receipt))
    elif i.public:
        choices.append(Choice("추천", "inquiry.recommend", i.receipt))
    if services.inquiries.is_agent(user):
        from handlers.triage import agent_choices

        work = agent_choices(i, user)
        # another's inquiry: the agent's work comes first ([1] is 맡기, not 추천)
        choices = choices + work if user == i.requester else work + choices
    return choices


@pattern(r"\d{10}")
@action("inquiry.view")
def view(incoming: Incoming, services) -> list[Reply]:
    inq = services.inquiries
    try:
        i = inq.view(incoming.value or (incoming.text or "").strip(), incoming.user)
    except InquiryError as e:
        return error_reply(services, str(e))
    data = i.public_dict()
    from bot.infra.people import name_of

    shown = {**data, "assignee": name_of(services, i.assignee) or None}  # a name, never a raw id
    text = render(services, "inquiry_detail", i=shown, remaining=inq.remaining_label(i))
    return [Reply(text, choices=detail_choices(services, i, incoming.user), kind="message",
                  private=not i.public, data={"inquiry": data})]


@action("inquiry.subject")
def subject(incoming: Incoming, services) -> list[Reply]:
    """The subject info, to the requester or the assignee only, as a private direct message."""
    try:
        receipt = services.inquiries.get(incoming.value or "").receipt
        text = services.inquiries.read_subject_info(receipt, incoming.user, where=incoming.surface)
    except InquiryError as e:
        return error_reply(services, str(e))
    # "sensitive": the outbox stores it encrypted and wipes it once delivered, should it go out of band.
    return [Reply(render(services, "inquiry_subject", receipt=receipt, subject=text), kind="notice", private=True,
                  to_user=incoming.user, data={"sensitive": True})]


@action("inquiry.rate")
def rate(incoming: Incoming, services) -> list[Reply]:
    receipt, _, score = (incoming.value or "").partition(":")
    try:
        i = services.inquiries.rate(receipt, incoming.user, score)
    except InquiryError as e:
        return error_reply(services, str(e))
    return [Reply(render(services, "inquiry_ack", what="rated", score=i.satisfaction, receipt=i.receipt),
                  kind="notice", private=True)]


@action("inquiry.recommend")
def recommend(incoming: Incoming, services) -> list[Reply]:
    try:
        i = services.inquiries.recommend(incoming.value or "", incoming.user)
    except InquiryError as e:
        return error_reply(services, str(e))
    return [Reply(render(services, "inquiry_ack", what="recommended", receipt=i.receipt, count=i.recommends),
                  kind="notice", private=True)]


@action("inquiry.reinquire")
def reinquire(incoming: Incoming, services) -> list[Reply]:
    """재질의: a form prefilled from the completed inquiry; its submission files a linked inquiry."""
    inq = services.inquiries
    try:
        parent = inq.get(incoming.value or "")
    except InquiryError as e:
        return error_reply(services, str(e))
    if parent.requester != incoming.user:
        return error_reply(services, words(services, "reinquire_own_only"))
    if parent.status != DONE:
        return error_reply(services, words(services, "reinquire_done_only"))
    values = {"title": f"[재질의] {parent.title}"[:MAX_TITLE], "category": parent.category, "type": parent.type,
              "urgent": parent.urgent, "public": parent.public, "guideline": parent.guideline,
              "organization": parent.organization, "position": parent.position}
    form = build_form(services, incoming, values=values, parent=parent.receipt)
    form.title = words(services, "reinquire_title", receipt=parent.receipt)
    return _form_reply(services, incoming, form)



@action("inquiry.files_fetched")
def files_fetched(incoming: Incoming, services) -> list[Reply]:
    """A chat surface fetched the files (`{"id", "data"}`, data None when it could not) of the inquiry filed
    from `incoming.submission`, after filing, never while acking: keep each one that passes the same check as
    the terminal's files; tell the requester, in Korean, about each one that did not and was dropped."""
    inquiry = services.inquiries._submitted(incoming.submission or "", incoming.user)
    if inquiry is None:
        return []
    fetched = {f.get("id"): f.get("data") for f in incoming.files or ()}
    replies = []
    for file_id in services.inquiries.pending_files(inquiry.receipt):
        reason = services.inquiries.store_file(inquiry.receipt, file_id, fetched.get(file_id), where=incoming.surface)
        if reason:
            replies.append(Reply(render(services, "inquiry_file_refused", receipt=inquiry.receipt, reason=reason),
                                 kind="notice", to_user=incoming.user, private=True))
    return replies

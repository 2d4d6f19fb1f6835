"""The helpdesk web console (`/console/…` on `ieum serve`): sign-in by one-time link, the queue, one inquiry
with its actions. Every action runs the triage handler a chat click runs (`handlers.delivery.act`), so the
triage card is updated and the requester hears on the surface they used; this module only translates HTTP
to `Incoming` and `Reply` to HTML.

Security: sessions are HttpOnly, SameSite=Strict cookies (Secure when IEUM_PUBLIC_URL is https) holding a
random token whose hash is stored; every POST carries the session's CSRF token; every page is sent with a
CSP without scripts, `frame-ancestors 'none'`, X-Frame-Options DENY and Referrer-Policy no-referrer. A link is
spent by a POST from its page, so a chat client's link preview (a GET) never uses it up.
"""
from __future__ import annotations

import asyncio
import csv
import functools
import hmac
import io
import logging
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote, urlencode

import jinja2
from aiohttp import web

from bot.core.messages import Incoming
from bot.infra.businesshours import remaining_label
from bot.inquiries.records import RecordError
from bot.inquiries.service import DONE, PERIODS, STATUSES, WAITING, InquiryError
from handlers.delivery import CHAT_SURFACES, act

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
COOKIE = "ieum_console"
PER_PAGE = 20
CSP = ("default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; base-uri 'none'; "
       "frame-ancestors 'none'")
EVENT_LABELS = {"filed": "접수", "assigned": "담당자 지정", "started": "조치 시작", "answered": "답변 등록",
                "completed": "조치완료", "promoted": "FAQ 등록", "rated": "만족도 평가", "recommended": "추천",
                "reinquired": "재질의", "subject_read": "대상자 정보 열람", "info_requested": "추가 정보 요청",
                "info_received": "추가 정보 받음", "reopened": "재개", "note": "내부 메모", "message": "대화",
                "subject_moved": "대상자 정보 이전(재질의)", "subject_destroyed": "대상자 정보 파기",
                "attachment_stored": "첨부파일 저장", "attachment_dropped": "첨부파일 제외"}
# the console's buttons: the triage handler each one runs
ACTIONS = {"assign": "triage.assign", "start": "triage.start", "answer": "triage.answer.submit",
           "complete": "triage.complete", "ask": "triage.ask.submit", "reopen": "triage.reopen",
           "note": "triage.note.submit", "promote": "triage.promote.submit", "message": "triage.message.submit"}
# the form fields each action posts (everything else in the POST is ignored)
FIELDS = {"answer": ("answer",), "ask": ("question",), "note": ("note",), "promote": ("title", "answer", "questions"),
          "message": ("message",)}


@functools.lru_cache(maxsize=1)
def _env() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.FileSystemLoader(str(HERE / "pages")), autoescape=True,
                              trim_blocks=True, lstrip_blocks=True)


def page(name: str, *, status: int = 200, **data) -> web.Response:
    html = _env().get_template(f"{name}.j2").render(**data)
    return web.Response(text=html, status=status, content_type="text/html", charset="utf-8")


def _secure(headers) -> None:
    headers["Content-Security-Policy"] = CSP
    headers["X-Frame-Options"] = "DENY"
    headers["Referrer-Policy"] = "no-referrer"
    headers["X-Content-Type-Options"] = "nosniff"
    headers.setdefault("Cache-Control", "no-store")


@web.middleware
async def headers(request: web.Request, handler):
    if not request.path.startswith("/console"):
        return await handler(request)
    try:
        resp = await handler(request)
    except web.HTTPException as e:  # redirects and refusals carry the headers too
        _secure(e.headers)
        raise
    _secure(resp.headers)
    return resp


class Console:
    def __init__(self, services):
        self.services = services
        self.secure = services.settings.console_url.startswith("https://")
        self.notices: dict[str, str] = {}  # session cookie -> the last action's result, shown once

    # -- sessions

    def session(self, request: web.Request):
        """(session, token) of a signed-in agent; an agent no longer in IEUM_AGENTS loses it here."""
        token = request.cookies.get(COOKIE)
        s = self.services.signin.session(token)
        if s is None:
            return None, token
        if not self.services.inquiries.is_agent(s.user):
            self.services.signin.end_all(s.user)
            return None, token
        return s, token

    def required(self, request: web.Request):
        s, token = self.session(request)
        if s is None:
            raise web.HTTPSeeOther("/console/welcome")
        return s, token

    async def form(self, request: web.Request, s) -> dict[str, str]:
        data = await request.post()
        if not hmac.compare_digest(str(data.get("_csrf", "")), s.csrf):
            raise web.HTTPForbidden(text="요청을 확인할 수 없습니다 (CSRF 토큰 없음). 페이지를 새로 고친 뒤 다시 시도하세요.")
        # browsers post a textarea's line breaks as CRLF: every field is kept as the chat surfaces write text
        return {k: str(v).replace("\r\n", "\n") for k, v in data.items()}

    def refuse(self, s, token, message: str, status: int) -> web.Response:
        response = self.render("error", s, token, message=message)
        response.set_status(status)
        return response

    def render(self, name: str, s, token, **data) -> web.Response:
        from bot.infra.people import name_of

        notice = self.notices.pop(token, "") if token else ""
        return page(name, me=s.user, me_name=name_of(self.services, s.user) or s.user, csrf=s.csrf,
                    notice=notice, officer=self.officer(s.user), **data)

    # -- sign-in

    async def welcome(self, request: web.Request) -> web.Response:
        return page("welcome")

    async def signin_page(self, request: web.Request) -> web.Response:
        return page("signin", token=request.query.get("token", ""))

    async def signin(self, request: web.Request) -> web.Response:
        data = await request.post()
        loop = asyncio.get_running_loop()
        got = await loop.run_in_executor(None, self.services.signin.redeem, str(data.get("token", "")))
        if got is None or not self.services.inquiries.is_agent(got[0]):
            return page("welcome", status=403, refused=True)
        resp = web.HTTPSeeOther("/console/")
        resp.set_cookie(COOKIE, got[1], httponly=True, samesite="Strict", secure=self.secure, path="/console",
                        max_age=int(self.services.signin.session_hours * 3600))
        raise resp

    async def logout(self, request: web.Request) -> web.Response:
        s, token = self.required(request)
        await self.form(request, s)
        self.services.signin.end(token)
        resp = web.HTTPSeeOther("/console/welcome")
        resp.del_cookie(COOKIE, path="/console")
        raise resp

    async def home(self, request: web.Request) -> web.Response:
        self.required(request)
        raise web.HTTPSeeOther("/console/inquiries")

    # -- the queue

    def filters(self, q, user: str) -> dict:
        inq = self.services.inquiries
        f: dict = {}
        if q.get("period") in PERIODS:
            f["period"] = q["period"]
        if q.get("status") in STATUSES:
            f["status"] = q["status"]
        elif q.get("status") != "all":
            f["open"] = True  # the queue: what is still to do
        if q.get("category") and inq.normalize_category(q["category"]):
            f["category"] = q["category"]
        if q.get("type") in inq.types:
            f["type"] = q["type"]
        if q.get("urgent") == "1":
            f["urgent"] = True
        if q.get("text", "").strip():
            f["text"] = q["text"].strip()[:100]
        if q.get("mine") == "1":
            f["assignee"] = user
        if q.get("unassigned") == "1":
            f["unassigned"] = True
        if q.get("overdue") == "1":
            f["overdue"] = True
        return f

    async def inquiries(self, request: web.Request) -> web.Response:
        s, token = self.required(request)
        q = request.query
        f = self.filters(q, s.user)
        try:
            number = max(1, int(q.get("page", "1")))
        except ValueError:
            number = 1
        # completed inquiries have no time left: newest first
        order = "newest" if q.get("sort") == "newest" or q.get("status") == DONE else "due"
        loop = asyncio.get_running_loop()
        result = await loop.run_in_executor(None, functools.partial(self.queue, f, number, order))
        keep = {k: v for k, v in q.items() if k != "page"}
        return self.render("inquiries", s, token, q=q, query=urlencode(keep), statuses=STATUSES,
                           periods=list(PERIODS), types=self.services.inquiries.types,
                           categories=self.services.inquiries.categories, **result)

    def queue(self, f: dict, number: int, order: str) -> dict:
        from bot.infra.people import name_of

        inq = self.services.inquiries
        result = inq.list(page=number, per_page=PER_PAGE, order=order, **f)
        now = self.services.clock.now()
        rows = []
        for i in result.items:
            left = inq.remaining(i, now)
            rows.append({"i": i, "remaining": remaining_label(left), "overdue": left is not None and left < 0,
                         "assignee": name_of(self.services, i.assignee) if i.assignee else ""})
        return {"rows": rows, "total": result.total, "capped": result.capped, "page": result.page,
                "pages": result.pages}

    async def export(self, request: web.Request) -> web.Response:
        s, _ = self.required(request)
        fmt = request.match_info["fmt"]
        # The list names requesters and their organisations: a 다운로드 of personal data, refused without a
        # reason and recorded with it (안전성 확보조치 기준 제8조, bot/inquiries/records.py).
        try:
            self.services.privacy.records.record(
                handler=s.user, place=place(request), action="다운로드",
                reason=request.query.get("reason", ""), detail=f"질의 목록 내려받기 ({fmt})")
        except RecordError as e:
            return self.refuse(s, None, f"{e} 목록 화면의 '내려받는 사유'에 적어 주세요.", 400)
        f = self.filters(request.query, s.user)
        buf = io.BytesIO()
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, functools.partial(self.services.inquiries.export, buf, fmt, **f))
        kind = "text/csv" if fmt == "csv" else "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        return web.Response(body=buf.getvalue(), headers={
            "Content-Type": kind, "Content-Disposition": f'attachment; filename="inquiries.{fmt}"'})

    # -- one inquiry

    async def inquiry(self, request: web.Request) -> web.Response:
        s, token = self.required(request)
        return self.detail(s, token, request.match_info["receipt"], query=request.query)

    def detail(self, s, token, receipt: str, subject: str | None = None, query=None) -> web.Response:
        from bot.infra.people import name_of

        try:
            i = self.services.inquiries.get(receipt, events=True)
        except InquiryError as e:
            return self.render("error", s, token, message=str(e))
        query = query or {}
        events, talk = [], []
        for e in i.events:
            item = {"at": e.at[:16].replace("T", " "), "label": EVENT_LABELS.get(e.kind, e.kind), "kind": e.kind,
                    "actor": name_of(self.services, e.actor) or e.actor, "text": e.detail.get("text", ""),
                    "surface": e.detail.get("surface", ""), "side": e.detail.get("from", "")}
            (talk if e.kind in ("message", "info_requested") else events).append(item)
        canned = load_canned(self.services.settings.knowledge)
        draft = i.answer or ""
        if query.get("canned", "").isdigit() and int(query["canned"]) < len(canned):
            draft = canned[int(query["canned"])]["text"].strip()
        found, needle = [], query.get("kb", "").strip()[:100]
        if needle:
            found = [m.entry for m in self.services.engine.search(needle, limit=5)]
        entry = self.services.kb.entry(query.get("entry", "")) if query.get("entry") else None
        if entry is not None:
            draft = (draft + "\n\n" if draft else "") + self.services.templates.render_answer(entry).strip()
        return self.render("inquiry", s, token, i=i, events=events, talk=talk,
                           remaining=self.services.inquiries.remaining_label(i),
                           assignee=name_of(self.services, i.assignee) if i.assignee else "",
                           done=i.status == DONE, waiting=i.status == WAITING, subject=subject, canned=canned,
                           reachable=i.source in CHAT_SURFACES,
                           draft=draft, found=found, needle=needle, entry=query.get("entry", ""),
                           canned_index=query.get("canned", ""))

    async def action(self, request: web.Request) -> web.Response:
        s, token = self.required(request)
        data = await self.form(request, s)
        receipt, what = request.match_info["receipt"], request.match_info["action"]
        try:
            i = self.services.inquiries.get(receipt)
        except InquiryError as e:
            return self.render("error", s, token, message=str(e))
        if what == "subject":
            return await self.subject(request, s, token, i)
        name = ACTIONS.get(what)
        if name is None:
            raise web.HTTPNotFound()
        form = {k: data.get(k, "") for k in FIELDS.get(what, ())} or None
        if what == "answer":
            form["complete"] = data.get("complete") == "1"
        incoming = Incoming(user=s.user, surface="web", action=name, value=i.receipt, form=form, direct=True)
        loop = asyncio.get_running_loop()
        replies = await loop.run_in_executor(None, lambda: act(self.services, incoming, source=i.source))
        await loop.run_in_executor(None, self.services.outbox.drain)  # the requester hears now, not at the tick
        errors = {k: v for r in replies if r.form is not None for k, v in r.form.errors.items()}
        self.notices[token] = " ".join(errors.values()) or "\n".join(r.text for r in replies)
        raise web.HTTPSeeOther(f"/console/inquiries/{i.receipt}")

    async def subject(self, request, s, token, i) -> web.Response:
        """대상자 정보: only to the assignee, only after a click (this POST), never stored in the page's URL;
        every read is logged by the inquiries service (inquiry_subject_reads)."""
        if i.assignee != s.user:
            self.notices[token] = "대상자 정보는 담당자만 볼 수 있습니다. 먼저 맡기를 누르세요."
            raise web.HTTPSeeOther(f"/console/inquiries/{i.receipt}")
        try:
            text = self.services.inquiries.read_subject_info(i.receipt, s.user,
                                                             where=place(request))
        except InquiryError as e:
            return self.render("error", s, token, message=str(e))
        return self.detail(s, token, i.receipt, subject=text or "(없음)")

    async def attachment(self, request: web.Request) -> web.Response:
        """An attachment as a file, for the assignee: a 다운로드 in the access records, refused without a reason."""
        s, token = self.required(request)
        data = await self.form(request, s)
        receipt, index = request.match_info["receipt"], int(request.match_info["index"])
        try:
            i = self.services.inquiries.get(receipt)
            if i.assignee != s.user:  # the requester has their own copy; in the console only the assignee
                raise InquiryError("첨부파일은 담당자만 내려받을 수 있습니다. 먼저 맡기를 누르세요.")
            name, body = self.services.inquiries.read_attachment(
                i.receipt, index, s.user, where=place(request), download=True,
                reason=str(data.get("reason", "")))
        except (InquiryError, RecordError) as e:
            return self.refuse(s, token, str(e), 400 if isinstance(e, RecordError) else 403)
        return web.Response(body=body, headers={
            "Content-Type": "application/octet-stream",  # never rendered by the browser, whatever it holds
            "Content-Disposition": f"attachment; filename=\"attachment-{index + 1}\"; filename*=UTF-8''{quote(name, safe='')}"})

    # -- the monthly review of the access records (월 1회 이상 점검)

    def officer(self, user: str) -> bool:
        officers = [o.strip() for o in self.services.settings.extra.get("IEUM_PRIVACY_OFFICERS", "").split(",")]
        return user in officers

    def officers_only(self, request: web.Request):
        """(session, token) of a privacy officer; anyone else gets a Korean 403."""
        s, token = self.required(request)
        if not self.officer(s.user):
            raise web.HTTPForbidden(text="월간 점검은 개인정보 보호책임자(IEUM_PRIVACY_OFFICERS)만 볼 수 있습니다.")
        return s, token

    async def review(self, request: web.Request) -> web.Response:
        """`ieum privacy report --month` as a page, for the privacy officers (IEUM_PRIVACY_OFFICERS)."""
        s, token = self.officers_only(request)
        month = request.query.get("month") or last_month(self.services.clock.now())
        privacy = self.services.privacy
        try:
            r = await asyncio.get_running_loop().run_in_executor(None, privacy.review, month)
        except RecordError as e:
            return self.render("error", s, token, message=str(e))
        return self.render("privacy", s, token, r=r, policy=privacy.policy, month=month)

    async def review_ack(self, request: web.Request) -> web.Response:
        """The officer signs the month off (`--ack`), recorded with the month's digest."""
        s, token = self.officers_only(request)
        data = await self.form(request, s)
        month = str(data.get("month", ""))
        try:
            r = self.services.privacy.ack(month, s.user, str(data.get("note", ""))[:500])
        except RecordError as e:
            return self.render("error", s, token, message=str(e))
        self.notices[token] = f"{r.month} 점검을 확인했다고 기록했습니다."
        raise web.HTTPSeeOther(f"/console/privacy?month={quote(r.month)}")

    async def review_csv(self, request: web.Request) -> web.Response:
        """The month's review as CSV: it names handlers and requesters, so a 다운로드 with a reason."""
        s, token = self.officers_only(request)
        month = request.query.get("month", "")
        try:
            r = self.services.privacy.review(month)
            self.services.privacy.records.record(
                handler=s.user, place=place(request), action="다운로드",
                reason=request.query.get("reason", ""), detail=f"접속기록 점검 {month} CSV")
        except RecordError as e:
            return self.refuse(s, token, str(e), 400)
        return web.Response(body=r.csv().encode("utf-8"), headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": f'attachment; filename="privacy-{r.month}.csv"'})

    # -- insights and knowledge gaps

    @staticmethod
    def days(q) -> int:
        return {"7": 7, "30": 30, "90": 90}.get(q.get("days", ""), 30)

    def insight_data(self, days: int) -> dict:
        from bot.inquiries.insights import compute

        return compute(self.services.store, self.services.clock.now(), days)

    async def insights(self, request: web.Request) -> web.Response:
        from bot.surfaces.web.charts import bars

        s, token = self.required(request)
        days = self.days(request.query)
        data = await asyncio.get_running_loop().run_in_executor(None, self.insight_data, days)
        labels = [r["day"] for r in data["daily"]]
        charts = [
            bars("일별 질문: 답변 / 답변 못함", labels, [("답변", [r["answered"] for r in data["daily"]]),
                                                      ("답변 못함", [r["declined"] for r in data["daily"]])]),
            bars("일별 질의: 접수 / 조치완료", labels, [("접수", [r["opened"] for r in data["daily"]]),
                                                    ("조치완료", [r["closed"] for r in data["daily"]])]),
        ]
        return self.render("insights", s, token, data=data, charts=charts, days=days)

    async def insights_csv(self, request: web.Request) -> web.Response:
        self.required(request)
        data = await asyncio.get_running_loop().run_in_executor(None, self.insight_data, self.days(request.query))
        rows = [["일자", "답변", "답변 못함", "질의 접수", "조치완료"]]
        rows += [[r["day"], r["answered"], r["declined"], r["opened"], r["closed"]] for r in data["daily"]]
        rows += [[], ["업무분류", "질의 수", "첫 응답(시간)", "완료(시간)", "기한 내 완료율"]]
        rows += [[c["category"], c["count"], _num(c["first_hours"]), _num(c["done_hours"]), _num(c["in_time"])]
                 for c in data["by_category"]]
        rows += [[], ["FAQ", "도움됨", "도움 안 됨"]] + [[f["entry"], f["up"], f["down"]] for f in data["feedback"]]
        return _csv("insights.csv", rows)

    def gap_groups(self, days: int):
        from bot.knowledge.gaps import collect, group

        since = (self.services.clock.now() - timedelta(days=days)).isoformat(timespec="seconds")
        return group(collect(self.services.store, since))

    async def gaps(self, request: web.Request) -> web.Response:
        s, token = self.required(request)
        days = self.days(request.query)
        groups = await asyncio.get_running_loop().run_in_executor(None, self.gap_groups, days)
        return self.render("gaps", s, token, groups=groups[:100], total=len(groups), days=days,
                           keep=self.services.settings.gaps_days)

    async def gaps_csv(self, request: web.Request) -> web.Response:
        self.required(request)
        groups = await asyncio.get_running_loop().run_in_executor(None, self.gap_groups, self.days(request.query))
        rows = [["대표 질문", "건수", "답변 못함", "도움 안 됨", "예시"]]
        rows += [[g.title, g.count, g.declined, g.disliked, " | ".join(g.examples)] for g in groups]
        return _csv("gaps.csv", rows)

    async def gap_draft(self, request: web.Request) -> web.Response:
        s, token = self.required(request)
        days = self.days(request.query)
        groups = await asyncio.get_running_loop().run_in_executor(None, self.gap_groups, days)
        try:
            g = groups[int(request.query.get("g", ""))]
        except (ValueError, IndexError):
            raise web.HTTPSeeOther(f"/console/gaps?days={days}")
        return self.render("gap_draft", s, token, title=g.title, questions="\n".join(g.examples), answer="",
                           error="")

    async def gap_faq(self, request: web.Request) -> web.Response:
        from bot.knowledge.gaps import make_entry

        s, token = self.required(request)
        data = await self.form(request, s)
        title, answer = str(data.get("title", "")), str(data.get("answer", ""))
        questions = str(data.get("questions", "")).splitlines()
        try:
            entry = make_entry(self.services.settings.knowledge, title=title, answer=answer, questions=questions)
        except ValueError as e:
            return self.render("gap_draft", s, token, title=title, answer=answer, questions="\n".join(questions),
                               error=str(e))
        self.services.engine.add(entry)  # answered at once; the file makes it last (and `ieum ask` sees it)
        log.info("console: FAQ %s written from a knowledge gap by %s", entry.id, s.user)
        self.notices[token] = f"FAQ로 등록했습니다: {entry.title} ({entry.id})"
        raise web.HTTPSeeOther("/console/gaps")

    async def css(self, request: web.Request) -> web.Response:
        return web.FileResponse(HERE / "static" / "console.css", headers={"Cache-Control": "max-age=3600"})


def _num(v) -> str:
    return "" if v is None else f"{v:.2f}"


def _csv(name: str, rows: list[list]) -> web.Response:
    from bot.inquiries.service import _csv_safe  # questions users typed: never a spreadsheet formula

    buf = io.StringIO()
    csv.writer(buf).writerows([[_csv_safe(v) for v in row] for row in rows])
    return web.Response(body=("\ufeff" + buf.getvalue()).encode("utf-8"), headers={
        "Content-Type": "text/csv; charset=utf-8", "Content-Disposition": f'attachment; filename="{name}"'})


def place(request: web.Request) -> str:
    """Where a console request comes from, for the access records: the console and the client's address."""
    return f"console {request.remote or ''}".strip()


def last_month(now) -> str:
    """The month a review done now looks at: the one before `now`'s (YYYY-MM)."""
    first = now.replace(day=1)
    return (first - timedelta(days=1)).strftime("%Y-%m")


def load_canned(knowledge: Path) -> list[dict]:
    """The canned answers of `knowledge/canned.yaml` (title, text); none when the file is absent or broken."""
    import yaml

    try:
        data = yaml.safe_load((Path(knowledge) / "canned.yaml").read_text(encoding="utf-8")) or []
    except (OSError, yaml.YAMLError):
        return []
    return [{"title": str(d["title"]), "text": str(d["text"])} for d in data
            if isinstance(d, dict) and d.get("title") and d.get("text")]


def mount(web_app: web.Application, services):
    """The console's routes on the bot's server (always on: without a link nobody gets past the welcome page)."""
    if getattr(services, "signin", None) is None or getattr(services, "inquiries", None) is None:
        return None
    c = Console(services)
    web_app.middlewares.append(headers)
    r = web_app.router
    r.add_get("/console", c.home)
    r.add_get("/console/", c.home)
    r.add_get("/console/welcome", c.welcome)
    r.add_get("/console/signin", c.signin_page)
    r.add_post("/console/signin", c.signin)
    r.add_post("/console/logout", c.logout)
    r.add_get("/console/inquiries", c.inquiries)
    r.add_get(r"/console/inquiries.{fmt:csv|xlsx}", c.export)
    r.add_get("/console/inquiries/{receipt}", c.inquiry)
    r.add_post("/console/inquiries/{receipt}/{action}", c.action)
    r.add_post(r"/console/inquiries/{receipt}/files/{index:\d{1,3}}", c.attachment)
    r.add_get("/console/privacy", c.review)
    r.add_get("/console/privacy.csv", c.review_csv)
    r.add_post("/console/privacy/ack", c.review_ack)
    r.add_get("/console/insights", c.insights)
    r.add_get("/console/insights.csv", c.insights_csv)
    r.add_get("/console/gaps", c.gaps)
    r.add_get("/console/gaps.csv", c.gaps_csv)
    r.add_get("/console/gaps/draft", c.gap_draft)
    r.add_post("/console/gaps/faq", c.gap_faq)
    r.add_get("/console/static/console.css", c.css)
    return None

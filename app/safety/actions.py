"""Actions on people (sanctions) with their statements of reasons, strikes and their escalation,
appeals, and suspensions that end by themselves.

Every action says what was decided, under which rule, about which content, whether it was
automated, and how to appeal; the person sees it on /notices and gets it by e-mail. An appeal is
decided by staff other than whoever took the action; upholding it undoes the action.
"""
from __future__ import annotations

from datetime import timedelta

from flask import current_app
from sqlalchemy import func, select

from .. import mail
from ..auth import sessions
from ..channels.access import is_channel_staff, is_staff_role, role_of
from ..chat import services as chat
from ..extensions import db
from ..models import VOD, Appeal, Case, Channel, ChatMessage, ModerationAction, Sanction, User, utcnow
from ..models.safety import SANCTION_KINDS
from ..moderation import services as moderation
from ..moderation.services import ModerationError
from ..streams import services as streams
from . import audit, outcomes, rules
from .errors import SafetyError

KIND_NAMES = {"remove": "Content removed", "warn": "Warning", "strike": "Strike",
              "live_suspend": "Suspended from going live", "account_suspend": "Account suspended",
              "terminate": "Account terminated"}
# What reporters are told happened: never who, never more than this.
OUTCOMES = {"remove": "We removed the content you reported.",
            "warn": "We reviewed your report and warned the person responsible.",
            "strike": "We reviewed your report and took action against the account.",
            "live_suspend": "We reviewed your report and took action against the channel.",
            "account_suspend": "We reviewed your report and took action against the account.",
            "terminate": "We reviewed your report and took action against the account."}
DISMISSED = "We reviewed your report and found nothing that breaks our rules."
# A case's outcome once the action taken on it was reversed by an upheld appeal: its reporters are
# told again, so what they read matches what is on the site.
REVERSED = ("We acted on your report, but the person appealed and another member of staff reversed "
            "the action: what was removed is back.")
CHANNEL_STAFF_KINDS = ("remove", "warn")  # the rest are the site's staff's
# What "remove" quarantines (restorable): a chat message is deleted, a VOD disabled (its page 451).
REMOVABLE = ("message", "vod")
TIMED_KINDS = ("live_suspend", "account_suspend")
MAX_DAYS = 3650
MAX_STATEMENT = 4000
# Active strikes that escalate by themselves: the third suspends the channel from going live for
# a week, the fourth suspends the account for 30 days (each with its own automated statement).
ESCALATION = {3: ("live_suspend", 7), 4: ("account_suspend", 30)}
# How many active strikes each escalation needs: reversing a strike lifts the escalation it caused
# unless the strikes still live justify it on their own.
ESCALATION_NEEDS = {kind: strikes for strikes, (kind, _) in ESCALATION.items()}
# An escalation names the strike that triggered it in its content fields (no column of its own).
ESCALATED_BY = "sanction"


class ActionError(SafetyError):
    """A refusal of this module's (app.safety.errors)."""


# --- who may act -----------------------------------------------------------------------------------

def can_handle(case: Case, user) -> bool:
    """Site staff handle every case; a channel's staff the chat cases in their channel, never one
    about themselves, and a moderator none about the channel's staff (its owner, fellow moderators,
    site admins): moderation would refuse to act on those, so they are the site's staff's, like
    cases about the moderator. `cases.queue` draws the same line in SQL."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    if user.is_admin:
        return True
    if case.channel_id is None or case.target_user_id == user.id:
        return False
    channel = db.session.get(Channel, case.channel_id)
    if channel is None:
        return False
    role = role_of(channel, user)
    if not is_staff_role(role):
        return False
    target = case.target_user
    return role != "moderator" or target is None or not is_staff_role(role_of(channel, target))


def kinds_for(case: Case, user) -> tuple[str, ...]:
    """The actions `user` may take on `case`."""
    kinds: tuple[str, ...] = SANCTION_KINDS if user.is_admin else CHANNEL_STAFF_KINDS
    if case.target_type not in REMOVABLE:
        kinds = tuple(kind for kind in kinds if kind != "remove")
    return kinds


# --- taking an action -------------------------------------------------------------------------------

def _statement(text: str) -> str:
    text = (text or "").strip()
    if not text:
        raise ActionError("Write the statement of reasons: what the person did and why it breaks the rule.",
                          field="statement")
    if len(text) > MAX_STATEMENT:
        raise ActionError(f"Keep the statement under {MAX_STATEMENT} characters.", field="statement")
    return text


def _expiry(kind: str, days: int | None) -> timedelta | None:
    if kind == "strike":
        return timedelta(days=current_app.config["STRIKE_EXPIRY_DAYS"])
    if kind not in TIMED_KINDS or not days:
        return None  # a suspension without days lasts until lifted
    if not 1 <= days <= MAX_DAYS:
        raise ActionError(f"A suspension lasts 1 to {MAX_DAYS} days (or leave it empty for no end).", field="days")
    return timedelta(days=days)


def _message_and_channel(sanction: Sanction) -> tuple[ChatMessage, Channel] | None:
    message = db.session.get(ChatMessage, sanction.content_id) if sanction.content_id else None
    channel = db.session.get(Channel, message.channel_id) if message else None
    return (message, channel) if message is not None and channel is not None else None


def _may_moderate(channel: Channel, actor, message: ChatMessage, verb: str) -> None:
    """moderation's rule for a message, asked without delete_message's commit: channel staff (or
    the site's, or the console: actor None) may, but a moderator not to the channel's staff."""
    if actor is None or getattr(actor, "is_admin", False):
        return
    try:
        role = moderation.require_staff(channel, actor)
    except ModerationError as error:
        raise ActionError(error.message, error.status) from None
    if not moderation.may_moderate_message(channel, actor, role, message):
        raise ActionError(f"Moderators can't {verb} messages from the owner or other staff; "
                          "send the case to the site's staff.", 403)


def _set_message_state(sanction: Sanction, actor, *, deleted: bool) -> None:
    """Delete (or bring back) a reported chat message in this transaction, with its line in the
    channel's mod log. moderation.delete_message would commit midway through the decision, so the
    change is made here and broadcast by `broadcast` once the whole decision is committed."""
    found = _message_and_channel(sanction)
    if found is None:
        if deleted:
            raise ActionError("The message is gone already.", 409)
        return
    message, channel = found
    if (message.state == "deleted") is deleted:
        return
    _may_moderate(channel, actor, message, "delete" if deleted else "restore")
    message.state = "deleted" if deleted else "visible"
    message.deleted_at = utcnow() if deleted else None
    message.deleted_by_id = getattr(actor, "id", None) if deleted else None
    if actor is not None:  # the mod log names a person; the console's steps are in the audit log
        db.session.add(ModerationAction(channel_id=channel.id, actor_id=actor.id,
                                        kind="delete" if deleted else "restore", target_user_id=message.user_id,
                                        message_id=message.id, reason="Removed after a report" if deleted else ""))


def broadcast(sanctions: list[Sanction]) -> None:
    """After the commit, what must not happen inside the decision's transaction: a suspended
    channel is taken off air (ending a session commits), and the chat hears of a message removed or
    brought back (harmless when Redis is away: the chat reloads from the database)."""
    for sanction in sanctions:
        target = sanction.user
        if sanction.kind in ("live_suspend", "account_suspend", "terminate") and sanction.reversed_at is None \
                and target is not None and target.channel is not None:
            streams.take_off_air(target.channel)
        if sanction.kind != "remove" or sanction.content_type != "message":
            continue
        found = _message_and_channel(sanction)
        if found is None:
            continue
        message, channel = found
        action = db.session.scalars(select(ModerationAction).where(ModerationAction.message_id == message.id)
                                    .order_by(ModerationAction.id.desc())).first()
        if message.state == "deleted":
            chat.emit("delete", {"id": message.id}, to=chat.room(channel.id))
        else:
            event = chat.payload(message, chat.render_message(message, channel, chat.settings_for(channel)))
            chat.emit("message", event, to=chat.room(channel.id))
        if action is not None and action.actor_id is not None:
            moderation.announce(channel, action)


def _apply(sanction: Sanction, target: User, actor) -> None:
    """Make the action happen in the session (the caller commits: nothing in here does, so a
    decision that fails later leaves nothing behind; the caller's `notify` does the rest)."""
    kind = sanction.kind
    if kind == "remove" and sanction.content_type == "vod":
        vod = db.session.get(VOD, sanction.content_id)
        if vod is None:
            raise ActionError("The video is gone already.", 409)
        vod.disabled_at = vod.disabled_at or utcnow()
    elif kind == "remove":
        _set_message_state(sanction, actor, deleted=True)
    elif kind == "live_suspend" and target.channel is not None:
        target.channel.live_banned = True  # go_live refuses it from the commit; `broadcast` ends the session
        target.channel.live_banned_until = sanction.expires_at
    elif kind in ("account_suspend", "terminate"):
        target.disabled = True
        target.suspended_until = sanction.expires_at if kind == "account_suspend" else None
        db.session.execute(sessions.ending_all(target))


def act(actor, target: User, kind: str, rule_key: str, statement: str, *, case: Case | None = None,
        days: int | None = None, channel_id: int | None = None) -> list[Sanction]:
    """Take an action against `target` (from a case, an admin page or the console: actor None);
    a strike may escalate by itself. Nothing is committed here: the caller commits, then calls
    `notify` for each (or rolls back, and nothing happened)."""
    sanction = _record(actor, target, kind, rule_key, statement, case=case, days=days, channel_id=channel_id)
    done = [sanction]
    if kind == "strike" and (escalated := _escalate(target, sanction)) is not None:
        done.append(escalated)
    return done


def _record(actor, target: User, kind: str, rule_key: str, statement: str, *, case: Case | None = None,
            days: int | None = None, automated: bool = False, channel_id: int | None = None) -> Sanction:
    """One action: checked, applied, stored and logged (the caller commits)."""
    if kind not in SANCTION_KINDS:
        raise ActionError("Choose an action from the list.", field="kind")
    reason = rules.reason(rule_key)
    if reason is None:
        raise ActionError("Choose the rule that was broken.", field="rule")
    if actor is not None and target.id == actor.id:
        raise ActionError("You can't act against your own account.", 409)
    if target.is_admin and kind in ("account_suspend", "terminate"):
        raise ActionError("Site admins can't be suspended or terminated here; take their role away first.", 409)
    if kind == "live_suspend" and target.channel is None:
        raise ActionError("That account has no channel.", 409)
    length = _expiry(kind, days)
    now = utcnow()
    sanction = Sanction(case=case, user_id=target.id, channel_id=channel_id,
                        actor_id=getattr(actor, "id", None), kind=kind, rule=reason.key,
                        rule_text=reason.text, statement=_statement(statement), automated=automated,
                        created_at=now, expires_at=now + length if length else None)
    if case is not None:
        sanction.content_type, sanction.content_id = case.target_type, case.target_id
        sanction.content_label = case.target_label
    _apply(sanction, target, actor)
    db.session.add(sanction)
    db.session.flush()
    audit.record(actor, f"sanction.{kind}", target_type="user", target_id=target.id,
                 target_name=f"@{target.username}",
                 detail=f"sanction {sanction.id}; {reason.text}" + (f"; case {case.id}" if case else "")
                 + (f"; until {sanction.expires_at:%Y-%m-%d %H:%M} UTC" if sanction.expires_at else ""))
    return sanction


def notify(sanction: Sanction) -> None:
    """After the commit (every caller of `act` calls this for each action): do what waits for the
    commit (`broadcast`), and e-mail the statement of reasons (the page /notices/<id> shows it too)."""
    broadcast([sanction])
    mail.queue("send_statement_of_reasons", sanction.id, mail.site_url())


def active_strikes(user: User) -> int:
    return db.session.scalar(select(func.count(Sanction.id)).where(
        Sanction.user_id == user.id, Sanction.kind == "strike", Sanction.reversed_at.is_(None),
        Sanction.expires_at > utcnow())) or 0


def _escalate(target: User, strike: Sanction) -> Sanction | None:
    step = ESCALATION.get(active_strikes(target))
    if step is None or (step[0] == "live_suspend" and target.channel is None):
        return None
    kind, days = step
    escalated = _record(None, target, kind, strike.rule,
                        f"This account has {active_strikes(target)} active strikes. "
                        f"{KIND_NAMES[kind]} for {days} days, automatically.", days=days, automated=True)
    # Which strike caused it, so that an upheld appeal of the strike can lift it too.
    escalated.content_type, escalated.content_id = ESCALATED_BY, strike.id
    return escalated


def decide_case(case: Case, actor: User, kind: str, rule_key: str, statement: str,
                days: int | None = None) -> list[Sanction]:
    """Staff action on an open case: the sanction (and any escalation), the case closed, the
    reporters' outcome set, everything mailed."""
    if not case.is_open:
        raise ActionError("That case is closed already.", 409)
    if not can_handle(case, actor):
        raise ActionError("That case is not yours to handle.", 403)
    if kind not in kinds_for(case, actor):
        raise ActionError("You can't take that action on this case.", 403, field="kind")
    target = case.target_user
    if target is None:
        raise ActionError("The account behind this content is gone; dismiss the case.", 409)
    channel_id = case.channel_id if not actor.is_admin else None
    try:
        # One transaction: the sanction, its escalation, the content's removal and the case's
        # closing commit together or not at all.
        done = act(actor, target, kind, rule_key, statement, case=case, days=days, channel_id=channel_id)
        _close(case, actor, "actioned", OUTCOMES[kind])
        db.session.commit()
    except ModerationError as error:  # a chat rule of moderation's: refused, and nothing changed
        db.session.rollback()
        raise ActionError(error.message, error.status) from None
    except Exception:
        db.session.rollback()
        raise
    for each in done:
        notify(each)
    _tell_reporters(case)
    return done


def dismiss_case(case: Case, actor: User, note: str = "") -> None:
    if not case.is_open:
        raise ActionError("That case is closed already.", 409)
    if not can_handle(case, actor):
        raise ActionError("That case is not yours to handle.", 403)
    _close(case, actor, "dismissed", DISMISSED)
    audit.record(actor, "case.dismiss", target_type="case", target_id=case.id, target_name=case.target_label,
                 detail=(note or "").strip()[:500])
    db.session.commit()
    _tell_reporters(case)


def _close(case: Case, actor: User, state: str, outcome: str) -> None:
    case.state, case.outcome = state, outcome
    case.decided_at = case.updated_at = utcnow()
    case.decided_by_id = actor.id


def _tell_reporters(case: Case) -> None:
    """Every reporter hears the outcome, after the commit (the jobs read the case's outcome):
    signed-out notice senders by e-mail, members by a notification and, with a verified address,
    an e-mail (app.safety.outcomes)."""
    for report in case.reports:
        if report.reporter_id is None and report.contact_email:
            mail.queue("send_report_outcome", report.id, mail.site_url())
    outcomes.case_decided(case)


# --- what the person sees ----------------------------------------------------------------------------

def content_text(sanction: Sanction) -> str | None:
    """The person's own words the action was about (a chat message), to show them with it."""
    if sanction.content_type != "message" or sanction.content_id is None:
        return None
    message = db.session.get(ChatMessage, sanction.content_id)
    return message.text if message is not None and message.user_id == sanction.user_id else None


def notices_for(user: User) -> list[Sanction]:
    return list(db.session.scalars(select(Sanction).where(Sanction.user_id == user.id)
                                   .order_by(Sanction.id.desc())))


def notice_of(user: User, sanction_id: int) -> Sanction:
    sanction = db.session.get(Sanction, sanction_id)
    if sanction is None or sanction.user_id != user.id:
        raise ActionError("There is no such notice.", 404)
    return sanction


def unseen_notices(user: User) -> int:
    return db.session.scalar(select(func.count(Sanction.id)).where(
        Sanction.user_id == user.id, Sanction.seen_at.is_(None))) or 0


def mark_seen(sanction: Sanction) -> None:
    if sanction.seen_at is None:
        sanction.seen_at = utcnow()
        db.session.commit()


def appeal_deadline(sanction: Sanction):
    return sanction.created_at + timedelta(days=current_app.config["APPEAL_WINDOW_DAYS"])


def appeal_refusal(sanction: Sanction) -> str | None:
    """Why the person can't appeal this action now, or None when they can."""
    if sanction.appeal is not None:
        return "You have appealed this decision already; each decision can be appealed once."
    if sanction.reversed_at is not None:
        return "This decision has been reversed."
    if utcnow() > appeal_deadline(sanction):
        return "The time to appeal this decision has passed."
    return None


def appeal(sanction: Sanction, user: User, text: str) -> Appeal:
    if sanction.user_id != user.id:
        raise ActionError("There is no such notice.", 404)
    if (refusal := appeal_refusal(sanction)) is not None:
        raise ActionError(refusal, 409)
    text = (text or "").strip()
    if not text or len(text) > MAX_STATEMENT:
        raise ActionError(f"Explain why the decision is wrong, in up to {MAX_STATEMENT} characters.", field="text")
    made = Appeal(sanction=sanction, user_id=user.id, text=text)
    db.session.add(made)
    audit.record(user, "appeal.file", target_type="sanction", target_id=sanction.id,
                 target_name=f"@{user.username}")
    db.session.commit()
    return made


def can_decide(appeal_: Appeal, user) -> bool:
    """Staff who could have taken the action, other than whoever took it."""
    sanction = appeal_.sanction
    if user is None or not getattr(user, "is_authenticated", False) or user.id == sanction.actor_id:
        return False
    if user.id == sanction.user_id:
        return False
    if user.is_admin:
        return True
    channel = db.session.get(Channel, sanction.channel_id) if sanction.channel_id else None
    return channel is not None and is_channel_staff(channel, user)


def pending_appeals(user: User) -> list[Appeal]:
    found = db.session.scalars(select(Appeal).where(Appeal.state == "pending").order_by(Appeal.id))
    return [each for each in found if can_decide(each, user)]


def decide_appeal(appeal_: Appeal, staff: User, uphold: bool, decision: str) -> Appeal:
    """Uphold (the action is reversed, what was removed comes back) or reject an appeal."""
    if appeal_.state != "pending":
        raise ActionError("That appeal has been decided already.", 409)
    if not can_decide(appeal_, staff):
        raise ActionError("Another member of staff, not whoever took the action, decides the appeal.", 403)
    decision = (decision or "").strip()
    if not decision or len(decision) > MAX_STATEMENT:
        raise ActionError("Explain the decision to the person.", field="decision")
    sanction = appeal_.sanction
    try:
        appeal_.state = "upheld" if uphold else "rejected"
        appeal_.decided_at, appeal_.decided_by_id, appeal_.decision = utcnow(), staff.id, decision
        undone: list[Sanction] = []
        restored = None
        reopened = None
        if uphold:
            undone = reverse(sanction, staff)
            restored = _restore_copyright_notice(sanction, staff)
            if sanction.case is not None and sanction.case.state == "actioned":
                reopened = sanction.case
                reopened.outcome, reopened.updated_at = REVERSED, utcnow()
        audit.record(staff, f"appeal.{appeal_.state}", target_type="sanction", target_id=appeal_.sanction_id,
                     target_name=sanction.user.username if sanction.user else "", detail=decision[:500])
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    broadcast(undone)
    mail.queue("send_appeal_decision", appeal_.id, mail.site_url())
    if reopened is not None:
        _tell_reporters(reopened)
    if restored is not None:
        mail.queue("send_dmca_mail", restored.id, "restored", mail.site_url())
    return appeal_


def _restore_copyright_notice(strike: Sanction, staff):
    """An upheld appeal of a DMCA strike: the video is back and the notice closed as restored, as
    takedown.restore_due does when a counter-notice's time comes. The caller commits, then mails
    "restored"."""
    from . import takedown  # takedown imports this module

    notice = takedown.notice_for_strike(strike)
    if notice is None or notice.state not in ("disabled", "counter_noticed", "lawsuit"):
        return None
    takedown.reopen(notice, staff)  # the strike is reversed already: only the video and the dates
    notice.state = "restored"
    audit.record(staff, "dmca.restored", target_type="vod", target_id=notice.vod_id,
                 target_name=notice.material_label, detail=f"notice {notice.id}: the strike's appeal was upheld")
    return notice


def reverse(sanction: Sanction, staff) -> list[Sanction]:
    """Undo an action: restore the removed message, lift the suspension, void the strike and lift
    the escalation it caused unless the strikes still live justify it (the caller commits, then
    `broadcast`s what this returns: every action undone)."""
    if sanction.reversed_at is not None:
        return []
    sanction.reversed_at, sanction.reversed_by_id = utcnow(), getattr(staff, "id", None)
    undone = [sanction]
    target = sanction.user
    if target is None:
        return undone
    if sanction.kind == "remove" and sanction.content_type == "vod":
        vod = db.session.get(VOD, sanction.content_id)
        if vod is not None:
            vod.disabled_at = None
    elif sanction.kind == "remove" and sanction.content_type == "message":
        _set_message_state(sanction, staff, deleted=False)
    elif sanction.kind == "live_suspend" and target.channel is not None:
        _lift_live_ban(target.channel)
    elif sanction.kind in ("account_suspend", "terminate"):
        target.disabled, target.suspended_until = target.erasure_pending, None
    elif sanction.kind == "strike":
        db.session.flush()  # so the count below no longer counts this strike
        for escalated in _escalations_of(sanction):
            if active_strikes(target) < ESCALATION_NEEDS[escalated.kind]:
                undone += reverse(escalated, staff)
                audit.record(staff, f"sanction.{escalated.kind}.lifted", target_type="user", target_id=target.id,
                             target_name=f"@{target.username}",
                             detail=f"sanction {escalated.id}: strike {sanction.id} was reversed")
    return undone


def _escalations_of(strike: Sanction) -> list[Sanction]:
    """The live suspensions this strike's escalation made."""
    return list(db.session.scalars(select(Sanction).where(
        Sanction.content_type == ESCALATED_BY, Sanction.content_id == strike.id,
        Sanction.user_id == strike.user_id, Sanction.kind.in_(tuple(ESCALATION_NEEDS)),
        Sanction.reversed_at.is_(None), Sanction.lifted_at.is_(None))))


def _lift_live_ban(channel: Channel) -> None:
    channel.live_banned, channel.live_banned_until = False, None


def lift_expired() -> int:
    """Lift suspensions whose time is up (the hourly retention job). Returns how many."""
    now = utcnow()
    due = list(db.session.scalars(select(Sanction).where(
        Sanction.kind.in_(TIMED_KINDS), Sanction.expires_at <= now, Sanction.lifted_at.is_(None),
        Sanction.reversed_at.is_(None))))
    for sanction in due:
        sanction.lifted_at = now
        target = sanction.user
        if target is None:
            continue
        channel = target.channel
        if sanction.kind == "live_suspend" and channel is not None and channel.live_banned_until is not None \
                and channel.live_banned_until <= now:
            _lift_live_ban(channel)
        elif sanction.kind == "account_suspend" and target.suspended_until is not None \
                and target.suspended_until <= now:
            # An account waiting out its erasure grace stays hidden (app.auth.deletion).
            target.disabled, target.suspended_until = target.erasure_pending, None
        audit.record(None, f"sanction.{sanction.kind}.expired", target_type="user", target_id=target.id,
                     target_name=f"@{target.username}", detail=f"sanction {sanction.id}")
    db.session.commit()
    return len(due)



def sanction_of_user(username: str, sanction_id: int) -> Sanction | None:
    sanction = db.session.get(Sanction, sanction_id)
    if sanction is None or sanction.user is None or sanction.user.username_lower != username.lower():
        return None
    return sanction


def lift(sanction: Sanction, staff) -> None:
    """An admin (or the console) lifts an action before its time: reversed, and logged."""
    try:
        undone = reverse(sanction, staff)
        target = sanction.user
        audit.record(staff, f"sanction.{sanction.kind}.lifted", target_type="user",
                     target_id=sanction.user_id, target_name=f"@{target.username}" if target else "",
                     detail=f"sanction {sanction.id}")
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    broadcast(undone)

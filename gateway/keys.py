"""Every Redis key name and TTL the gateway uses, in one place.

All keys share the hash tag ``{<prefix>}`` so they live in one Redis Cluster slot: multi-key
Lua scripts and MULTI blocks work unchanged on Cluster. Durations carry their unit.
"""

from __future__ import annotations

from dataclasses import dataclass

LOCK_TTL_S = 30
IDEMPOTENCY_TTL_S = 24 * 3600
PLATFORM_TOKEN_MAX_TTL_S = 7200


@dataclass(frozen=True)
class Keys:
    prefix: str = "mg"

    def _k(self, *parts: str) -> str:
        return ":".join((f"{{{self.prefix}}}", *parts))

    # identities
    def api_key(self, key_id: str) -> str:
        return self._k("apikey", key_id)

    def api_keys(self) -> str:
        return self._k("apikeys")  # set of key ids

    def principal_names(self) -> str:
        return self._k("apikeys", "names")  # hash display name -> key id (active principals)

    def key_proposal(self, proposal_id: str) -> str:
        return self._k("keyprop", proposal_id)  # a proposed approver key awaiting a second person

    def key_proposals(self) -> str:
        return self._k("keyprops")  # set of proposal ids

    # accounts (Art. 7)
    def account(self, account_id: str) -> str:
        return self._k("account", account_id)

    def account_versions(self, account_id: str) -> str:
        return self._k("account", account_id, "versions")  # list of JSON snapshots

    def accounts(self) -> str:
        return self._k("accounts")  # set of account ids

    # freeze switches (Art. 8)
    def freeze(self, scope: str, target: str = "") -> str:
        return self._k("freeze", scope, target) if target else self._k("freeze", scope)

    def freezes(self) -> str:
        return self._k("freezes")  # hash "scope:id" -> JSON

    # vault (Art. 20)
    def vault(self, account_id: str) -> str:
        return self._k("vault", account_id)  # hash field -> JSON envelope

    def vault_accounts(self) -> str:
        return self._k("vault", "accounts")

    def platform_token(self, account_id: str, name: str) -> str:
        return self._k("ptoken", account_id, name)

    def platform_token_lock(self, account_id: str, name: str) -> str:
        return self._k("ptoken", account_id, name, "lock")

    def platform_media(self, account_id: str) -> str:
        return self._k("pmedia", account_id)  # hash content sha256 -> JSON record (media id)

    # audit (Art. 22)
    def audit_stream(self) -> str:
        return self._k("audit")

    def audit_head(self) -> str:
        return self._k("audit", "head")

    # approvals and the gate
    def jti(self, account_id: str, jti: str) -> str:
        return self._k("jti", account_id, jti)

    def rejection(self, content_sha256: str) -> str:
        return self._k("rejections", content_sha256)

    def attestations(self, content_sha256: str) -> str:
        return self._k("attest", content_sha256)

    # jobs and delivery
    def job(self, job_id: str) -> str:
        return self._k("job", job_id)

    def job_history(self, job_id: str) -> str:
        return self._k("job", job_id, "history")

    def job_post(self, job_id: str) -> str:
        return self._k("job", job_id, "post")

    def job_checkpoints(self, job_id: str) -> str:
        return self._k("job", job_id, "checkpoints")  # hash step -> JSON

    def jobs_by_state(self, state: str) -> str:
        return self._k("jobs", "state", state)

    def jobs_all(self) -> str:
        return self._k("jobs")  # sorted set: job id by creation time

    def job_queue(self) -> str:
        return self._k("queue")  # sorted set: job id by due time

    def job_lease(self, job_id: str) -> str:
        return self._k("lease", job_id)

    def idempotency(self, principal_id: str, key: str) -> str:
        return self._k("idem", principal_id, key)

    # lexicons (hot reload)
    def lexicon(self, category: str) -> str:
        return self._k("lexicon", category)

    def lexicons(self) -> str:
        return self._k("lexicons")  # hash category -> JSON meta

    def lexicon_version(self) -> str:
        return self._k("lexicons", "version")

    def lexicon_channel(self) -> str:
        return self._k("lexicons", "changed")

    # rate limits: one counter per caller per window
    def rate_limit(self, scope: str, ident: str) -> str:
        return self._k("rate", scope, ident)

    # the web console (gateway/console/): sessions by the SHA-256 of their cookie value
    def console_session(self, sid_sha256: str) -> str:
        return self._k("console", "session", sid_sha256)

    # the review desk (gateway/desk)
    def submission(self, submission_id: str) -> str:
        return self._k("sub", submission_id)  # JSON of gateway.desk.model.Submission

    def submission_tokens(self, submission_id: str) -> str:
        return self._k("sub", submission_id, "tokens")  # hash jti -> approval token (JWS)

    def submissions(self) -> str:
        return self._k("subs")  # sorted set: submission id by creation time

    def submissions_by_state(self, state: str) -> str:
        return self._k("subs", "state", state)  # sorted set: id by creation time

    def submissions_due(self) -> str:
        return self._k("subs", "due")  # sorted set: approved id by publish_at

    def submission_lease(self, submission_id: str) -> str:
        return self._k("sub", submission_id, "lease")  # held while one process publishes it

    # --- the hub (gateway/hub/) ---
    def material(self, material_id: str) -> str:
        return self._k("material", material_id)  # JSON of gateway.hub.materials.Material

    def materials(self) -> str:
        return self._k("materials")  # sorted set: material id by time received

    def campaign(self, campaign_id: str) -> str:
        return self._k("campaign", campaign_id)  # JSON of gateway.hub.campaigns.Campaign

    def campaigns(self) -> str:
        return self._k("campaigns")  # sorted set: campaign id by creation time

    def hub_reminded(self, what: str) -> str:
        return self._k("hub", "reminded", what)  # set once per reminder sent (NX, expires)

    # notifications (gateway/notify)
    def notify_outbox(self) -> str:
        return self._k("notify", "outbox")  # sorted set: message id by next attempt time

    def notify_message(self, message_id: str) -> str:
        return self._k("notify", "msg", message_id)  # JSON of gateway.notify.outbox.Message

    def notify_dead(self) -> str:
        return self._k("notify", "dead")  # sorted set: message ids given up on, by time

    def notify_lease(self, message_id: str) -> str:
        return self._k("notify", "msg", message_id, "lease")

    # bypass alerts (gateway/watch/, Art. 19, 22)
    def alert(self, alert_id: str) -> str:
        return self._k("alert", alert_id)  # JSON of gateway.watch.alerts.Alert

    def alerts(self) -> str:
        return self._k("alerts")  # zset alert id -> detected_at

    def alerts_of(self, account_id: str) -> str:
        return self._k("alerts", "account", account_id)  # zset alert id -> detected_at

    def alerts_open(self) -> str:
        return self._k("alerts", "open")  # zset alert id -> detected_at

    def alert_dedupe(self, dedupe: str) -> str:
        return self._k("alerts", "seen", dedupe)  # alert id of the finding's first alert

    def watch_state(self, account_id: str) -> str:
        return self._k("watch", account_id)  # hash: the account's reconciler cursor and stats

    def watch_lease(self, account_id: str) -> str:
        return self._k("watch", account_id, "lease")  # the process reconciling the account

    def watch_jobs(self, account_id: str) -> str:
        return self._k("watch", account_id, "jobs")  # zset: the account's job ids by creation

    # the drop-in platform proxy (gateway/proxy, docs/proxy.md)
    def proxy_client(self, appid: str) -> str:
        return self._k("proxy", "client", appid)  # JSON of gateway.proxy.clients.ProxyClient

    def proxy_clients(self) -> str:
        return self._k("proxy", "clients")  # set of appids

    def proxy_token(self, token_sha256: str) -> str:
        return self._k("proxy", "token", token_sha256)  # JSON {appid, pool, expires_at}; TTL

    def proxy_token_pool(self, appid: str, pool: str) -> str:
        return self._k("proxy", "client", appid, "pool", pool)  # the pool's current token

    def proxy_rate(self, appid: str, window: str) -> str:
        return self._k("proxy", "client", appid, "rate", window)  # call counter; TTL

    def proxy_media(self, appid: str, media_id: str) -> str:
        return self._k("proxy", "client", appid, "media", media_id)  # JSON image kept; TTL

    def proxy_draft(self, appid: str, media_id: str) -> str:
        return self._k("proxy", "client", appid, "draft", media_id)  # JSON of a kept draft

    def proxy_draft_claim(self, appid: str, media_id: str) -> str:
        return self._k("proxy", "client", appid, "draft", media_id, "claim")  # one submit at once

    def proxy_drafts(self, appid: str) -> str:
        return self._k("proxy", "client", appid, "drafts")  # sorted set: media id by time

    def proxy_publish(self, appid: str, publish_id: str) -> str:
        return self._k("proxy", "client", appid, "publish", publish_id)  # JSON publish record

    def proxy_publishes(self, appid: str) -> str:
        return self._k("proxy", "client", appid, "publishes")  # sorted set: publish id by time

    def proxy_publish_seq(self) -> str:
        return self._k("proxy", "publish_seq")  # counter behind publish ids

    # metrics and reports
    def activity(self, unit: str, week: str) -> str:
        return self._k("activity", unit, week)


def text(value: bytes | str) -> str:
    """A Redis reply as text (the clients here return bytes)."""
    return value.decode() if isinstance(value, bytes) else value

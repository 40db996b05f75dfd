-- The stand-in's SQL on GoTrue's tables, as named blocks (`-- name: <name>`).
-- GoTrue writes instance_id as the nil UUID; rows made elsewhere (the local
-- `switchyard token` upsert) have NULL there and are treated alike.

-- name: user_by_email
select * from auth.users
 where coalesce(instance_id, '00000000-0000-0000-0000-000000000000')
       = '00000000-0000-0000-0000-000000000000'
   and lower(email) = lower(%(email)s) and aud = %(aud)s and is_sso_user = false
 limit 1

-- name: user_by_id
select * from auth.users where id = %(id)s

-- name: insert_user
insert into auth.users (
    instance_id, id, aud, role, email, encrypted_password, confirmation_token,
    recovery_token, email_change_token_new, email_change, raw_app_meta_data,
    raw_user_meta_data, created_at, updated_at, phone, phone_change, phone_change_token,
    email_change_token_current, email_change_confirm_status, reauthentication_token,
    is_sso_user, is_anonymous
) values (
    '00000000-0000-0000-0000-000000000000', %(id)s, %(aud)s, %(role)s, %(email)s,
    %(encrypted_password)s, '', '', '', '', %(app_metadata)s, %(user_metadata)s,
    %(now)s, %(now)s, null, '', '', '', 0, '', false, false
)

-- name: confirm_user_email
update auth.users
   set email_confirmed_at = %(now)s, confirmation_token = '', updated_at = %(now)s,
       raw_user_meta_data = coalesce(raw_user_meta_data, '{}'::jsonb)
                            || '{"email_verified": true}'::jsonb
 where id = %(id)s

-- name: record_sign_in
update auth.users set last_sign_in_at = %(now)s, updated_at = %(now)s where id = %(id)s

-- name: update_password
update auth.users
   set encrypted_password = %(encrypted_password)s, confirmation_token = '',
       confirmation_sent_at = null, recovery_token = '', recovery_sent_at = null,
       email_change_token_current = '', email_change_token_new = '',
       email_change_sent_at = null, phone_change_token = '', phone_change_sent_at = null,
       reauthentication_token = '', reauthentication_sent_at = null, updated_at = %(now)s
 where id = %(id)s

-- name: update_user_metadata
update auth.users set raw_user_meta_data = %(user_metadata)s, updated_at = %(now)s
 where id = %(id)s

-- name: identities_of_user
select * from auth.identities where user_id = %(user_id)s order by created_at, id

-- name: identity_by_provider
select * from auth.identities where provider_id = %(provider_id)s and provider = %(provider)s

-- name: insert_identity
insert into auth.identities (
    provider_id, user_id, identity_data, provider, last_sign_in_at, created_at, updated_at
) values (%(provider_id)s, %(user_id)s, %(identity_data)s, %(provider)s, %(now)s, %(now)s, %(now)s)

-- name: factors_of_user
select * from auth.mfa_factors where user_id = %(user_id)s order by created_at, id

-- name: insert_session
insert into auth.sessions (id, user_id, created_at, updated_at, factor_id, aal, user_agent, ip)
values (%(id)s, %(user_id)s, %(now)s, %(now)s, null, 'aal1', %(user_agent)s, %(ip)s)

-- name: session_by_id
select * from auth.sessions where id = %(id)s

-- name: lock_session
select * from auth.sessions where id = %(id)s for update

-- name: amr_claims_of_session
select authentication_method, updated_at from auth.mfa_amr_claims where session_id = %(session_id)s

-- name: add_amr_claim
insert into auth.mfa_amr_claims (id, session_id, created_at, updated_at, authentication_method)
values (%(id)s, %(session_id)s, %(now)s, %(now)s, %(method)s)
    on conflict on constraint mfa_amr_claims_session_id_authentication_method_pkey
    do update set updated_at = %(now)s

-- name: set_session_aal
update auth.sessions set aal = %(aal)s, factor_id = %(factor_id)s, updated_at = %(now)s
 where id = %(id)s

-- name: record_refresh
update auth.sessions
   set refreshed_at = %(refreshed_at)s, user_agent = %(user_agent)s, ip = %(ip)s,
       updated_at = %(now)s
 where id = %(id)s

-- name: delete_session
delete from auth.sessions where id = %(id)s

-- name: delete_sessions_of_user
delete from auth.sessions where user_id = %(user_id)s

-- name: delete_other_sessions
delete from auth.sessions where user_id = %(user_id)s and id <> %(id)s

-- name: delete_sessions_below_aal
delete from auth.sessions where user_id = %(user_id)s and aal < %(aal)s

-- name: insert_refresh_token
insert into auth.refresh_tokens (
    instance_id, token, user_id, revoked, created_at, updated_at, parent, session_id
) values (
    '00000000-0000-0000-0000-000000000000', %(token)s, %(user_id)s, false, %(now)s, %(now)s,
    %(parent)s, %(session_id)s
)
returning *

-- name: lock_refresh_token
select * from auth.refresh_tokens where token = %(token)s for update

-- name: revoke_refresh_token
update auth.refresh_tokens set revoked = true, updated_at = %(now)s where id = %(id)s

-- name: active_refresh_token
select * from auth.refresh_tokens
 where session_id = %(session_id)s and revoked is false order by id desc limit 1

-- name: oldest_active_refresh_token
select * from auth.refresh_tokens
 where session_id = %(session_id)s and revoked = false order by created_at, id limit 1

-- name: revoke_session_refresh_tokens
update auth.refresh_tokens set revoked = true, updated_at = %(now)s
 where session_id = %(session_id)s and revoked = false

-- name: delete_expired_factors
delete from auth.mfa_factors f
 where f.status != 'verified'
   and not exists (select 1 from auth.mfa_challenges c where c.factor_id = f.id)
   and f.created_at + make_interval(secs => %(validity_s)s) < %(now)s

-- name: insert_factor
insert into auth.mfa_factors (
    id, user_id, friendly_name, factor_type, status, created_at, updated_at, secret
) values (%(id)s, %(user_id)s, %(friendly_name)s, 'totp', 'unverified', %(now)s, %(now)s, %(secret)s)

-- name: owned_factor
select * from auth.mfa_factors where id = %(id)s and user_id = %(user_id)s

-- name: insert_challenge
insert into auth.mfa_challenges (id, factor_id, created_at, ip_address)
values (%(id)s, %(factor_id)s, %(now)s, %(ip)s)

-- name: mark_factor_challenged
update auth.mfa_factors set last_challenged_at = %(now)s where id = %(id)s

-- name: challenge_of_factor
select id, factor_id, created_at, verified_at, host(ip_address) as ip_address
  from auth.mfa_challenges where id = %(id)s and factor_id = %(factor_id)s

-- name: delete_challenge
delete from auth.mfa_challenges where id = %(id)s

-- name: verify_challenge
update auth.mfa_challenges set verified_at = %(now)s where id = %(id)s

-- name: verify_factor
update auth.mfa_factors set status = 'verified', updated_at = %(now)s where id = %(id)s

-- name: delete_unverified_factors
delete from auth.mfa_factors
 where user_id = %(user_id)s and status = 'unverified' and factor_type = %(factor_type)s

-- name: delete_factor
delete from auth.mfa_factors where id = %(id)s

-- name: delete_factor_amr_claims
delete from auth.mfa_amr_claims
 where authentication_method = %(method)s
   and session_id in (select id from auth.sessions where factor_id = %(factor_id)s)

-- name: downgrade_factor_sessions
update auth.sessions set aal = 'aal1', factor_id = null
 where user_id = %(user_id)s and factor_id = %(factor_id)s

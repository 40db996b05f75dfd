-- The audit log: one function says who acts and from where, and erasing a user works.
--
-- * `private.audit_origin()` (20261203130000) repeated the client-address rules of
--   `private.write_audit` (20261203110000) and missed its API-token actor, so an audit row
--   written set-based could name `authenticated` where the row-by-row path said
--   `api_token`. Now `audit_origin` is the only place with those rules (the actor
--   included) and `write_audit` takes its row from it.
-- * Deleting a user from auth.users (the Supabase dashboard, `auth.admin.deleteUser`)
--   failed once they had an account: the delete cascades to public.accounts, whose audit
--   trigger wrote a row for a user already gone, and the audit log's foreign key refused
--   it. The user's audit rows are erased with them (on delete cascade), so the last
--   write of an erased user writes none. A NULL user id still fails loudly (not null).

create or replace function private.audit_origin()
returns table (actor text, ip inet, user_agent text)
language plpgsql stable security definer set search_path = '' as $$
declare
    headers jsonb := nullif(current_setting('request.headers', true), '')::jsonb;
    claims jsonb := nullif(current_setting('request.jwt.claims', true), '')::jsonb;
    vouched text := nullif(current_setting('switchyard.client_address', true), '');
    hops integer;
    entries text[];
    candidate text;
    client_ip inet;
begin
    -- The functions vouch for the address they saw (switchyard.client_address); behind
    -- PostgREST, X-Forwarded-For counted from the right by the trusted proxy hops.
    if vouched is not null then
        candidate := vouched;
    else
        select s.trusted_proxy_hops into hops from private.audit_settings s;
        hops := coalesce(hops, 1);
        select array_agg(trim(x.entry) order by x.n) into entries
          from unnest(string_to_array(headers ->> 'x-forwarded-for', ','))
               with ordinality as x(entry, n)
         where trim(x.entry) <> '';
        if hops > 0 and coalesce(array_length(entries, 1), 0) >= hops then
            candidate := entries[array_length(entries, 1) - hops + 1];
        end if;
    end if;
    begin
        client_ip := nullif(candidate, '')::inet;
        if client_ip <> host(client_ip)::inet then
            client_ip := null;  -- a network (1.2.3.0/24), not an address
        end if;
    exception when invalid_text_representation then
        client_ip := null;  -- a forged or garbled entry is not an address
    end;
    return query select
        case when claims -> 'switchyard_api_token' ->> 'id' is not null then 'api_token'
             else coalesce(claims ->> 'role', current_user::text) end,
        client_ip,
        left(headers ->> 'user-agent', 500);
end;
$$;

create or replace function private.write_audit(
    p_user_id uuid, p_account_id uuid, p_job_id uuid, p_action text, p_detail jsonb
) returns void
language plpgsql security definer set search_path = '' as $$
declare
    token_id text := nullif(current_setting('request.jwt.claims', true), '')::jsonb
        -> 'switchyard_api_token' ->> 'id';
begin
    if p_user_id is not null and not exists (select 1 from auth.users u where u.id = p_user_id)
    then
        return;  -- being erased: their audit rows go with them
    end if;
    insert into public.audit_log (user_id, account_id, job_id, action, detail, actor, ip, user_agent)
    select p_user_id, p_account_id, p_job_id, p_action,
           coalesce(p_detail, '{}'::jsonb)
           || case when token_id is null then '{}'::jsonb
                   else jsonb_build_object('api_token_id', token_id) end,
           o.actor, o.ip, o.user_agent
      from private.audit_origin() o;
end;
$$;

revoke all on function private.audit_origin() from public, anon, authenticated;
revoke all on function private.write_audit(uuid, uuid, uuid, text, jsonb)
    from public, anon, authenticated;

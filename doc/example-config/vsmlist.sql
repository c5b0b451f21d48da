-- vsmlist: list members in PostgreSQL (9.5 or later), for Dovecot's dict
-- server with dict-vsmlist.conf.ext beside this file. See doc/dict.md.
--
-- One row a member of a list. Both addresses are written as the store
-- keys them: the whole address in lower case, a local part quoted where
-- SMTP needs it ("john smith"@example.org), and '/' and '\' as Dovecot's
-- dict escapes them ('\|' and '\\'; no ordinary address has either).
-- The primary key is the map's pattern fields: Dovecot's INSERT ... ON
-- CONFLICT names exactly these.
CREATE TABLE vsmlist_member (
    list          text   NOT NULL CHECK (list = lower(list)),
    member        text   NOT NULL CHECK (member = lower(member)),
    -- enabled: gets posts; disabled: by bounces, until enabled again
    state         text   NOT NULL DEFAULT 'enabled'
                         CHECK (state IN ('enabled', 'disabled')),
    bounce_points bigint NOT NULL DEFAULT 0 CHECK (bounce_points >= 0),
    -- Unix seconds, 0 = never
    last_bounce   bigint NOT NULL DEFAULT 0 CHECK (last_bounce >= 0),
    disabled_at   bigint NOT NULL DEFAULT 0 CHECK (disabled_at >= 0),
    PRIMARY KEY (list, member)
);

SET client_encoding = 'UTF8';

CREATE TABLE results (
  username TEXT,
  id BIGINT,
  created_at TIMESTAMPTZ,
  expires_at TIMESTAMPTZ,
  revoked_at TIMESTAMPTZ,
  last_used_at TIMESTAMPTZ,
  status TEXT,
  revoke_reason TEXT,
  ip TEXT,
  user_agent TEXT,
  last_ip TEXT,
  last_user_agent TEXT,
  via TEXT,
  actor TEXT
);

INSERT INTO results VALUES ('web_user', '790000000000000001', '2022-09-14 12:00:00.000000+00', '2122-08-02 17:47:36.341997+00', NULL, '2022-09-14 12:30:00.500000+00', 'active', NULL, '203.0.113.7', 'curl/8.5.0', '198.51.100.4', 'Wget/1.21.3', 'http', 'web_user');
-- 1 row

SET client_encoding = 'UTF8';

CREATE TABLE results (
  username TEXT,
  id BIGINT,
  revoked_at TIMESTAMPTZ,
  revoked_now BOOLEAN
);

INSERT INTO results VALUES ('web_user', '784447132063662081', '2022-08-02 18:24:50.819614+00', FALSE);
INSERT INTO results VALUES ('web_user', '784449147579924481', '2022-08-02 18:47:20.105254+00', FALSE);
INSERT INTO results VALUES ('web_user', '790000000000000001', 'YYYY-MM-DD hh:mm:ss.ffffff+00', TRUE);
INSERT INTO results VALUES ('web_user', '790000000000000002', 'YYYY-MM-DD hh:mm:ss.ffffff+00', TRUE);
-- 4 rows

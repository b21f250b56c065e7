SET client_encoding = 'UTF8';

CREATE TABLE results (
  username TEXT,
  session_id BIGINT,
  cookie TEXT
);

INSERT INTO results VALUES ('web_user_xxxxxxxx', '784445853689282561', 'session=AQri6VkGrYABSECRETxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx=; Path=/; HttpOnly; Secure');
-- 1 row

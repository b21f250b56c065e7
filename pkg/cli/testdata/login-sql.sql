CREATE TABLE results (
  username STRING,
  session_id STRING,
  cookie STRING
);

INSERT INTO results VALUES ('web_user_xxxxxxxx', '784445853689282561', 'session=AQri6VkGrYABSECRETxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx=; Path=/; HttpOnly; Secure');
-- 1 row

-- Runs once on the replica's first start: replicate from the primary by GTID.
CHANGE REPLICATION SOURCE TO SOURCE_HOST = 'mysql', SOURCE_PORT = 3306, SOURCE_USER = 'root', SOURCE_PASSWORD = 'ghostwright',
  SOURCE_AUTO_POSITION = 1, GET_SOURCE_PUBLIC_KEY = 1;
START REPLICA;

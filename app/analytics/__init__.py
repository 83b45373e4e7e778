"""Creator analytics and viewer QoE: player beats collected in Redis (collect), rolled up per
minute and per day in the database by an RQ job (rollups), read back as reports and charts for
the creator's pages and the export API."""

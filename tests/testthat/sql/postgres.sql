-- dialect: postgres

-- cluster_stats(): two queries
-- means
SELECT COUNT(*) AS cab_rows, SUM(CASE WHEN "treated" IS NOT NULL AND
    "baseline" IS NOT NULL AND "revenue" IS NOT NULL AND "w" IS NOT NULL AND
    "w" > 0 THEN 1 ELSE 0 END) AS cab_used, SUM(CASE WHEN "treated" IS NOT
    NULL AND "baseline" IS NOT NULL AND "revenue" IS NOT NULL AND "w" IS NOT
    NULL AND "w" > 0 AND "region" IS NULL THEN 1 ELSE 0 END) AS
    cab_null_cluster, SUM(CASE WHEN "w" < 0 THEN 1 ELSE 0 END) AS
    cab_negative, SUM(CASE WHEN "treated" IS NOT NULL AND "baseline" IS NOT
    NULL AND "revenue" IS NOT NULL AND "w" IS NOT NULL AND "w" > 0 THEN
    CAST("w" AS DOUBLE PRECISION) * CAST("treated" AS DOUBLE PRECISION) END)
    / SUM(CASE WHEN "treated" IS NOT NULL AND "baseline" IS NOT NULL AND
    "revenue" IS NOT NULL AND "w" IS NOT NULL AND "w" > 0 THEN CAST("w" AS
    DOUBLE PRECISION) END) AS cab_mean1, SUM(CASE WHEN "treated" IS NOT NULL
    AND "baseline" IS NOT NULL AND "revenue" IS NOT NULL AND "w" IS NOT NULL
    AND "w" > 0 THEN CAST("w" AS DOUBLE PRECISION) * CAST("baseline" AS
    DOUBLE PRECISION) END) / SUM(CASE WHEN "treated" IS NOT NULL AND
    "baseline" IS NOT NULL AND "revenue" IS NOT NULL AND "w" IS NOT NULL AND
    "w" > 0 THEN CAST("w" AS DOUBLE PRECISION) END) AS cab_mean2, SUM(CASE
    WHEN "treated" IS NOT NULL AND "baseline" IS NOT NULL AND "revenue" IS
    NOT NULL AND "w" IS NOT NULL AND "w" > 0 THEN CAST("w" AS DOUBLE
    PRECISION) * CAST("revenue" AS DOUBLE PRECISION) END) / SUM(CASE WHEN
    "treated" IS NOT NULL AND "baseline" IS NOT NULL AND "revenue" IS NOT
    NULL AND "w" IS NOT NULL AND "w" > 0 THEN CAST("w" AS DOUBLE PRECISION)
    END) AS cab_mean3, SUM(CASE WHEN "treated" IS NOT NULL AND "baseline" IS
    NOT NULL AND "revenue" IS NOT NULL AND "w" IS NOT NULL AND "w" > 0 THEN
    CAST("w" AS DOUBLE PRECISION) END) / SUM(CASE WHEN "treated" IS NOT NULL
    AND "baseline" IS NOT NULL AND "revenue" IS NOT NULL AND "w" IS NOT NULL
    AND "w" > 0 THEN CAST(1 AS DOUBLE PRECISION) END) AS cab_mean4, MIN(CASE
    WHEN "treated" IS NOT NULL AND "baseline" IS NOT NULL AND "revenue" IS
    NOT NULL AND "w" IS NOT NULL AND "w" > 0 THEN CAST("treated" AS DOUBLE
    PRECISION) END) AS cab_min1, MAX(CASE WHEN "treated" IS NOT NULL AND
    "baseline" IS NOT NULL AND "revenue" IS NOT NULL AND "w" IS NOT NULL AND
    "w" > 0 THEN CAST("treated" AS DOUBLE PRECISION) END) AS cab_max1,
    MIN(CASE WHEN "treated" IS NOT NULL AND "baseline" IS NOT NULL AND
    "revenue" IS NOT NULL AND "w" IS NOT NULL AND "w" > 0 THEN
    CAST("baseline" AS DOUBLE PRECISION) END) AS cab_min2, MAX(CASE WHEN
    "treated" IS NOT NULL AND "baseline" IS NOT NULL AND "revenue" IS NOT
    NULL AND "w" IS NOT NULL AND "w" > 0 THEN CAST("baseline" AS DOUBLE
    PRECISION) END) AS cab_max2, MIN(CASE WHEN "treated" IS NOT NULL AND
    "baseline" IS NOT NULL AND "revenue" IS NOT NULL AND "w" IS NOT NULL AND
    "w" > 0 THEN CAST("revenue" AS DOUBLE PRECISION) END) AS cab_min3,
    MAX(CASE WHEN "treated" IS NOT NULL AND "baseline" IS NOT NULL AND
    "revenue" IS NOT NULL AND "w" IS NOT NULL AND "w" > 0 THEN CAST("revenue"
    AS DOUBLE PRECISION) END) AS cab_max3, MIN(CASE WHEN "treated" IS NOT
    NULL AND "baseline" IS NOT NULL AND "revenue" IS NOT NULL AND "w" IS NOT
    NULL AND "w" > 0 THEN CAST("w" AS DOUBLE PRECISION) END) AS cab_min4,
    MAX(CASE WHEN "treated" IS NOT NULL AND "baseline" IS NOT NULL AND
    "revenue" IS NOT NULL AND "w" IS NOT NULL AND "w" > 0 THEN CAST("w" AS
    DOUBLE PRECISION) END) AS cab_max4 FROM "geo"

-- sums
SELECT cab_g, COUNT(*) AS cab_n, MIN(cab_w) AS cab_wmin, MAX(cab_w) AS
    cab_wmax, SUM(cab_z1) AS cab_s1, SUM(cab_z1 * cab_z1) AS cab_s2,
    SUM(cab_z2) AS cab_s3, SUM(cab_z1 * cab_z2) AS cab_s4, SUM(cab_z2 *
    cab_z2) AS cab_s5, SUM(cab_z3) AS cab_s6, SUM(cab_z1 * cab_z3) AS cab_s7,
    SUM(cab_z2 * cab_z3) AS cab_s8, SUM(cab_z3 * cab_z3) AS cab_s9,
    SUM(cab_w) AS cab_s10, SUM(cab_w * cab_z1) AS cab_s11, SUM(cab_w * cab_z1
    * cab_z1) AS cab_s12, SUM(cab_w * cab_z2) AS cab_s13, SUM(cab_w * cab_z1
    * cab_z2) AS cab_s14, SUM(cab_w * cab_z2 * cab_z2) AS cab_s15, SUM(cab_w
    * cab_z3) AS cab_s16, SUM(cab_w * cab_z1 * cab_z3) AS cab_s17, SUM(cab_w
    * cab_z2 * cab_z3) AS cab_s18, SUM(cab_w * cab_z3 * cab_z3) AS cab_s19,
    SUM(cab_w * cab_w) AS cab_s20, SUM(cab_w * cab_w * cab_z1) AS cab_s21,
    SUM(cab_w * cab_w * cab_z1 * cab_z1) AS cab_s22, SUM(cab_w * cab_w *
    cab_z2) AS cab_s23, SUM(cab_w * cab_w * cab_z1 * cab_z2) AS cab_s24,
    SUM(cab_w * cab_w * cab_z2 * cab_z2) AS cab_s25, SUM(cab_w * cab_w *
    cab_z3) AS cab_s26, SUM(cab_w * cab_w * cab_z1 * cab_z3) AS cab_s27,
    SUM(cab_w * cab_w * cab_z2 * cab_z3) AS cab_s28, SUM(cab_w * cab_w *
    cab_z3 * cab_z3) AS cab_s29, CAST(0.5 AS DOUBLE PRECISION) AS cab_shift1,
    CAST(10 AS DOUBLE PRECISION) AS cab_shift2, CAST(20 AS DOUBLE PRECISION)
    AS cab_shift3 FROM (SELECT "region" AS cab_g, (CAST("treated" AS DOUBLE
    PRECISION) - CAST(0.5 AS DOUBLE PRECISION)) AS cab_z1, (CAST("baseline"
    AS DOUBLE PRECISION) - CAST(10 AS DOUBLE PRECISION)) AS cab_z2,
    (CAST("revenue" AS DOUBLE PRECISION) - CAST(20 AS DOUBLE PRECISION)) AS
    cab_z3, CAST("w" AS DOUBLE PRECISION) AS cab_w FROM "geo" WHERE "treated"
    IS NOT NULL AND "baseline" IS NOT NULL AND "revenue" IS NOT NULL AND "w"
    IS NOT NULL AND "w" > 0) cab_d GROUP BY cab_g

-- compute_metrics(): the per-unit query
SELECT cab_eid AS "experiment_id", cab_uid AS "user_id", cab_variant AS
    "variant", cab_t0 AS "exposure_time", cab_cl AS "household_id", cab_m1 AS
    "conversion_7d", cab_m2 AS "revenue_7d", cab_m3 AS "sessions_7d", CASE
    WHEN cab_m3 = 0 THEN NULL ELSE cab_m2 / cab_m3 END AS
    "revenue_per_session" FROM (SELECT u.cab_eid, u.cab_uid, u.cab_variant,
    u.cab_t0, u.cab_cl, u.cab_m1 AS cab_m1, CASE WHEN u.cab_m2 > CAST(500 AS
    DOUBLE PRECISION) THEN CAST(500 AS DOUBLE PRECISION) ELSE u.cab_m2 END AS
    cab_m2, u.cab_m3 AS cab_m3 FROM (SELECT u.cab_eid, u.cab_uid,
    u.cab_variant, u.cab_t0, u.cab_cl, CAST(MAX(CASE WHEN e.cab_name =
    'purchase' AND e.cab_t - u.cab_t0 >= CAST(0 AS DOUBLE PRECISION) AND
    e.cab_t - u.cab_t0 <= CAST(604800 AS DOUBLE PRECISION) THEN 1 ELSE 0 END)
    AS DOUBLE PRECISION) AS cab_m1, CAST(SUM(CASE WHEN e.cab_name =
    'purchase' AND e.cab_t - u.cab_t0 >= CAST(0 AS DOUBLE PRECISION) AND
    e.cab_t - u.cab_t0 <= CAST(604800 AS DOUBLE PRECISION) THEN e.cab_value
    ELSE 0 END) AS DOUBLE PRECISION) AS cab_m2, CAST(SUM(CASE WHEN e.cab_name
    = 'session_start' AND e.cab_t - u.cab_t0 >= CAST(0 AS DOUBLE PRECISION)
    AND e.cab_t - u.cab_t0 <= CAST(604800 AS DOUBLE PRECISION) THEN e.cab_n
    ELSE 0 END) AS DOUBLE PRECISION) AS cab_m3 FROM (SELECT cab_eid, cab_uid,
    cab_vmin AS cab_variant, cab_t0, cab_cmin AS cab_cl FROM (SELECT
    "experiment_id" AS cab_eid, "user_id" AS cab_uid, MIN(CAST(EXTRACT(EPOCH
    FROM "exposure_time") AS DOUBLE PRECISION)) AS cab_t0, MIN("variant") AS
    cab_vmin, MAX("variant") AS cab_vmax, COUNT(*) AS cab_nexp,
    MIN("household_id") AS cab_cmin, MAX("household_id") AS cab_cmax FROM
    "exposures" cab_x GROUP BY "experiment_id", "user_id") cab_f WHERE
    cab_vmin = cab_vmax) u LEFT JOIN (SELECT "user_id" AS cab_uid,
    "event_name" AS cab_name, CAST(EXTRACT(EPOCH FROM "event_time") AS DOUBLE
    PRECISION) AS cab_t, COUNT(*) AS cab_n, SUM(CAST("event_value" AS DOUBLE
    PRECISION)) AS cab_value, SUM(CASE WHEN CAST("event_value" AS DOUBLE
    PRECISION) IS NULL THEN 1 ELSE 0 END) AS cab_nnull FROM "events" cab_v
    WHERE "event_name" IN ('purchase', 'session_start') GROUP BY "user_id",
    "event_name", CAST(EXTRACT(EPOCH FROM "event_time") AS DOUBLE PRECISION))
    e ON e.cab_uid = u.cab_uid GROUP BY u.cab_eid, u.cab_uid, u.cab_variant,
    u.cab_t0, u.cab_cl) u) u

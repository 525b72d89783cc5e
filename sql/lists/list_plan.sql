-- one row per listed patient at $as_of: whether the team is asked to review them this week, and their latest recorded review
-- The weekly capacity cut (OUTPUTS.md "Weekly capacity and review feedback"): in a
-- neighbourhood with capacity N (lists.list_capacity), the N
-- highest ranked eligible patients get this_week = true. A patient is skipped while their
-- last review (any outcome but died / moved_away, which keep them off the list) is less
-- than $review_window_days old, unless their risk rose since the list that review came
-- from: a higher tier ($tier_order, highest first) or a score up by at least
-- $rise_threshold. A neighbourhood without a capacity has this_week null (empty).
with

week as (
    select * from lists.list_week
),

history as (
    select * from lists.list_entries
),

review_outcomes as (
    select * from lists.list_review_outcomes
),

capacity as (
    select * from lists.list_capacity
),

reviews_so_far as (
    select *
    from review_outcomes
    where review_date <= $as_of
        and publication_as_of <= $as_of
),

latest_review as (
    select
        reviews_so_far.patient_id,
        reviews_so_far.publication_as_of,
        reviews_so_far.neighbourhood_code,
        reviews_so_far.review_outcome,
        reviews_so_far.review_date,
    from reviews_so_far
    qualify row_number() over (
        partition by reviews_so_far.patient_id
        order by
            reviews_so_far.review_date desc,
            reviews_so_far.recorded_at desc,
            reviews_so_far.review_outcome
    ) = 1
),

-- The latest review that can hold a patient back (died / moved_away keep them off the list
-- instead), with the score and tier of the list it came from.
latest_holding_review as (
    select
        reviews_so_far.patient_id,
        reviews_so_far.review_date,
        history.risk_score as reviewed_risk_score,
        history.risk_tier as reviewed_risk_tier,
    from reviews_so_far
    left join history
        on history.as_of = reviews_so_far.publication_as_of
        and history.neighbourhood_code = reviews_so_far.neighbourhood_code
        and history.patient_id = reviews_so_far.patient_id
    where reviews_so_far.review_outcome not in ('died', 'moved_away')
    qualify row_number() over (
        partition by reviews_so_far.patient_id
        order by reviews_so_far.review_date desc, reviews_so_far.recorded_at desc
    ) = 1
),

judged as (
    select
        week.as_of,
        week.neighbourhood_code,
        week.patient_id,
        week.rank,
        capacity.weekly_reviews,
        latest_holding_review.review_date is not null
            and date_diff('day', latest_holding_review.review_date, cast($as_of as date))
            < $review_window_days
            as is_recently_reviewed,
        coalesce(
            list_position(cast($tier_order as varchar[]), week.risk_tier)
            < list_position(
                cast($tier_order as varchar[]), latest_holding_review.reviewed_risk_tier
            )
            -- rounded as the list shows scores, so a rise of exactly the threshold counts
            or round(week.risk_score - latest_holding_review.reviewed_risk_score, 4)
            >= $rise_threshold,
            false
        ) as has_risen_since_review,
    from week
    left join capacity on capacity.neighbourhood_code = week.neighbourhood_code
    left join latest_holding_review on latest_holding_review.patient_id = week.patient_id
),

eligible as (
    select
        *,
        not is_recently_reviewed or has_risen_since_review as is_eligible,
    from judged
),

cut as (
    select
        *,
        case
            when is_eligible then row_number() over (
                partition by neighbourhood_code, is_eligible order by rank
            )
        end as eligible_rank,
    from eligible
),

final as (
    select
        cast($as_of as date) as as_of,
        cut.neighbourhood_code,
        cut.patient_id,
        cut.rank,
        cut.weekly_reviews,
        cut.is_recently_reviewed,
        cut.has_risen_since_review,
        case
            when cut.weekly_reviews is null then null
            else coalesce(cut.eligible_rank <= cut.weekly_reviews, false)
        end as this_week,
        latest_review.review_date as last_review_date,
        latest_review.review_outcome as last_review_outcome,
    from cut
    left join latest_review on latest_review.patient_id = cut.patient_id
)

select
    as_of,
    neighbourhood_code,
    patient_id,
    rank,
    weekly_reviews,
    is_recently_reviewed,
    has_risen_since_review,
    this_week,
    last_review_date,
    last_review_outcome,
from final
order by neighbourhood_code, rank

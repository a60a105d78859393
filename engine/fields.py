"""The lead record (spec section 1) and the tiers of a score: the one list of each.

Every other list of lead fields (the row checks, the upsert, the API's shapes, the import page's
targets, scenarios, the SQL columns) is built from these, so a lead field is added here (and as a
column of leads.models.Lead).
"""

# The lead's own text fields, each stored in a column of the same name.
LEAD_TEXT_FIELDS = (
    "email",
    "first_name",
    "last_name",
    "company",
    "title",
    "industry",
    "country",
    "lead_source",
)
NUMBER_FIELDS = ("employees", "annual_revenue")

# Lead fields a scoring condition may name, with how each is compared: the external id and the
# owner's username compare as text too.
TEXT_FIELDS = ("id", *LEAD_TEXT_FIELDS, "owner")
LEAD_FIELDS = TEXT_FIELDS + NUMBER_FIELDS

# The tier a score falls in by its segment's thresholds, highest first.
HOT, WARM, COLD = "hot", "warm", "cold"
TIERS = (HOT, WARM, COLD)

"""The lead fields a model's conditions may test (spec: the lead record)."""

# Lead fields a scoring condition may name, with how each is compared.
TEXT_FIELDS = (
    "id",
    "email",
    "first_name",
    "last_name",
    "company",
    "title",
    "industry",
    "country",
    "lead_source",
    "owner",
)


NUMBER_FIELDS = ("employees", "annual_revenue")

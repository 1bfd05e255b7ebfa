"""Word lists for the builtin toy datasets (see `fairfight.data.builtin`).

Conventions used by the templates in this module:
  {slot}     is filled by the generator (recursively, so fillers may contain slots); in
             bio templates {s}, {p} and {o} are the subject, possessive and object that
             refer to the bio's person ("she"/"her"/"her", "I"/"my"/"me", or a name), and
             the first letter of every sentence is capitalised afterwards;
  [verb]     is a present-tense verb of the bio's subject, written in the third person
             ("[teaches]", "[is]", "[has]") and turned into "teach", "am", "have" for
             first-person bios.
Nothing outside `LEXICAL_WORDS` may name or imply a gender word, so that bios written
without lexical cues really carry none (the tests check this).
"""
from __future__ import annotations

# --- names -----------------------------------------------------------------------------
MALE_NAMES = (
    "James", "Robert", "Michael", "William", "David", "Richard", "Joseph", "Thomas",
    "Charles", "Christopher", "Daniel", "Matthew", "Anthony", "Steven", "Paul", "Andrew",
    "Joshua", "Kenneth", "Kevin", "Brian", "George", "Edward", "Ronald", "Timothy",
    "Jason", "Jeffrey", "Ryan", "Jacob", "Gary", "Nicholas", "Eric", "Jonathan",
    "Stephen", "Justin", "Brandon", "Benjamin", "Samuel", "Gregory", "Raymond", "Peter",
    "Carlos", "Ahmed", "Rajesh", "Hiroshi", "Mateo", "Tobias", "Oliver", "Marcus",
)
FEMALE_NAMES = (
    "Mary", "Patricia", "Jennifer", "Linda", "Elizabeth", "Barbara", "Susan", "Jessica",
    "Sarah", "Karen", "Lisa", "Nancy", "Margaret", "Sandra", "Ashley", "Kimberly",
    "Emily", "Donna", "Michelle", "Amanda", "Melissa", "Deborah", "Stephanie", "Rebecca",
    "Laura", "Sharon", "Cynthia", "Kathleen", "Amy", "Angela", "Helen", "Anna",
    "Brenda", "Nicole", "Samantha", "Katherine", "Christine", "Rachel", "Maria", "Priya",
    "Mei", "Fatima", "Yuki", "Olivia", "Hannah", "Sofia", "Ingrid", "Natalie",
)
UNISEX_NAMES = (
    "Jordan", "Alex", "Casey", "Jamie", "Riley", "Avery", "Quinn", "Cameron", "Drew",
    "Robin", "Reese", "Skyler", "Dakota", "Emerson", "Rowan", "Sage", "Kendall",
    "Parker", "Blake", "Jesse", "Kai", "Ari", "Sam", "Charlie", "Elliot", "Finley",
)
SURNAMES = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis",
    "Rodriguez", "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson",
    "Moore", "Jackson", "Martin", "Lee", "Perez", "Thompson", "White", "Harris",
    "Sanchez", "Clark", "Ramirez", "Lewis", "Robinson", "Walker", "Young", "Allen",
    "Wright", "Torres", "Nguyen", "Hill", "Flores", "Green", "Adams", "Nelson", "Baker",
    "Hall", "Rivera", "Campbell", "Mitchell", "Carter", "Roberts", "Hayes", "Okafor",
    "Chen", "Wang", "Patel", "Kim", "Singh", "Kowalski", "Novak", "Schmidt", "Mueller",
    "Rossi", "Bianchi", "Dubois", "Lefebvre", "Nakamura", "Tanaka", "Sato", "Haddad",
    "Mensah", "Osei", "Larsen", "Murphy", "O'Brien", "Kelly", "Sullivan", "Byrne",
    "Fischer", "Weber", "Kapoor", "Reddy", "Iyer", "Fernandes", "Costa", "Silva",
    "Cohen", "Levy", "Friedman", "Park", "Choi", "Yamamoto", "Bergstrom", "Lindqvist",
)

# --- places and institutions -----------------------------------------------------------
CITIES = (
    "Seattle", "Portland", "Boston", "Chicago", "Denver", "Austin", "Atlanta", "Phoenix",
    "Minneapolis", "Philadelphia", "Pittsburgh", "Baltimore", "San Diego", "Sacramento",
    "Nashville", "Raleigh", "Columbus", "Cleveland", "Milwaukee", "Kansas City",
    "St. Louis", "Salt Lake City", "Albuquerque", "Tucson", "Omaha", "Richmond",
    "Charlotte", "Tampa", "Orlando", "Madison", "Ann Arbor", "Toronto", "Vancouver",
    "Dublin", "Manchester", "Melbourne", "Auckland", "Edinburgh", "Houston", "Dallas",
)
UNIVERSITIES = (
    "the University of Washington", "Ohio State University", "the University of Michigan",
    "Boston University", "the University of Texas at Austin", "Emory University",
    "the University of Minnesota", "Duke University", "Northwestern University",
    "the University of Toronto", "Rutgers University", "Purdue University",
    "the University of Colorado", "Georgia Tech", "the University of Edinburgh",
    "Vanderbilt University", "the University of Arizona", "Penn State",
    "the University of Wisconsin", "Tufts University", "McGill University",
    "the University of Florida", "Arizona State University", "Case Western Reserve University",
)
HOSPITALS = (
    "{city} General Hospital", "{city} Children's Hospital", "Mercy Medical Center",
    "Providence Regional Medical Center", "Riverside Community Hospital",
    "the University Medical Center", "Lakeside Memorial Hospital", "Valley Health System",
    "Northside Hospital", "Sutter Health", "Kaiser Permanente", "the Mayo Clinic",
    "Cedar Ridge Medical Center", "the VA Medical Center in {city}",
    "Harborview Medical Center", "St. Luke's Hospital",
)

# --- professions -------------------------------------------------------------------------
# titles: noun phrases (no article); workplaces; degrees; duties: [verb] phrases;
# focus: noun phrases; achievements: participle phrases after "has"; awards; previous:
# what the subject did before ("as a ..."); extras: whole profession-specific sentences.
PROFESSIONS = {
    "professor": {
        "doctor_title": True,
        "field": ("sociology", "economics", "history", "linguistics", "chemistry",
                  "political science", "philosophy", "mathematics", "psychology",
                  "anthropology", "comparative literature", "molecular biology"),
        "titles": ("professor of {field}", "associate professor of {field}",
                   "assistant professor in the department of {field}",
                   "tenured professor of {field}", "distinguished professor of {field}",
                   "professor", "research professor"),
        "workplaces": UNIVERSITIES + ("the {field} department at {university}",
                                      "the graduate school at {university}"),
        "degrees": ("PhD in {field}", "doctorate in {field}", "master's degree in {field}",
                    "bachelor's degree in {field}"),
        "duties": ("[teaches] undergraduate courses in {field}",
                   "[supervises] doctoral students", "[runs] a research lab on {focus}",
                   "[lectures] on {focus}", "[serves] on the faculty senate",
                   "[advises] graduate students working on {focus}",
                   "[chairs] the curriculum committee", "[teaches] a seminar on {focus}",
                   "[studies] {focus}", "[edits] a peer-reviewed journal on {field}"),
        "focus": ("labor markets", "urban inequality", "early modern Europe",
                  "language acquisition", "protein folding", "voting behavior",
                  "the ethics of technology", "number theory", "memory and attention",
                  "migration and identity", "climate policy", "gene regulation"),
        "achievements": ("published more than {n} peer-reviewed articles",
                         "authored {nw} books on {focus}", "won {nw} national research grants",
                         "given invited lectures on {focus} in {nw} countries",
                         "mentored dozens of doctoral students"),
        "awards": ("a distinguished teaching award", "a National Science Foundation CAREER grant",
                   "a Fulbright fellowship", "a Guggenheim fellowship",
                   "the university's research excellence award"),
        "previous": ("as a postdoctoral researcher at {university}",
                     "as a lecturer at {university}", "as a visiting scholar in {city}",
                     "as a research fellow at {university}"),
        "extras": ("{p} research on {focus} has been funded by the National Science Foundation.",
                   "{p} latest book examines {focus}.",
                   "{s} [holds] a joint appointment in {field} and public policy.",
                   "Students regularly rate {p} seminars on {focus} among the best on campus.",
                   "{s} [is] on sabbatical this year, finishing a monograph on {focus}."),
    },
    "nurse": {
        "doctor_title": False,
        "field": ("pediatric", "oncology", "emergency", "intensive care", "labor and delivery",
                  "cardiac", "geriatric", "surgical", "psychiatric", "neonatal"),
        "titles": ("registered nurse", "{field} nurse", "nurse practitioner", "charge nurse",
                   "travel nurse", "staff nurse in the {field} unit", "nurse educator",
                   "certified {field} nurse"),
        "workplaces": HOSPITALS + ("the {field} unit at {hospital}", "a community health clinic in {city}",
                                   "a home health agency in {city}"),
        "degrees": ("Bachelor of Science in Nursing", "BSN", "MSN",
                    "associate degree in nursing", "Doctor of Nursing Practice"),
        "duties": ("[cares] for patients in the {field} unit", "[coordinates] discharge planning",
                   "[administers] medications and [monitors] vital signs",
                   "[educates] families about {focus}", "[works] twelve-hour night shifts",
                   "[mentors] new graduate nurses", "[triages] patients in the emergency department",
                   "[leads] the unit's infection-control team", "[advocates] for patients and families"),
        "focus": ("wound care", "diabetes management", "pain management", "patient safety",
                  "infection prevention", "palliative care", "breastfeeding support",
                  "chronic disease management", "medication safety"),
        "achievements": ("cared for thousands of patients", "precepted more than {n} nursing students",
                         "earned certification in {focus}", "helped open a new {field} unit",
                         "worked on {nw} continents as a travel nurse"),
        "awards": ("a DAISY Award for extraordinary nursing", "the hospital's nursing excellence award",
                   "a clinical excellence award", "the state nurses association's rising star award"),
        "previous": ("as a certified nursing assistant", "as a staff nurse at {hospital}",
                     "as a travel nurse in {city}", "as an emergency room nurse"),
        "extras": ("{s} [has] been a licensed RN since {year}.",
                   "{s} [is] certified in advanced cardiac life support.",
                   "Patients on the {field} floor know {o} for {p} calm bedside manner.",
                   "{s} [works] night shifts on the {field} floor at {hospital}.",
                   "{s} [is] pursuing a graduate degree in nursing."),
    },
    "surgeon": {
        "doctor_title": True,
        "field": ("orthopedic", "cardiothoracic", "plastic", "general", "vascular",
                  "pediatric", "neurological", "colorectal", "trauma", "transplant"),
        "titles": ("{field} surgeon", "board-certified {field} surgeon", "surgeon",
                   "attending surgeon", "chief of {field} surgery", "surgeon specializing in {focus}"),
        "workplaces": HOSPITALS + ("a private surgical practice in {city}",
                                   "the department of surgery at {hospital}"),
        "degrees": ("MD", "medical degree", "Doctor of Medicine", "MD with honors"),
        "duties": ("[performs] {field} procedures", "[operates] at {hospital}",
                   "[specializes] in {focus}", "[trains] surgical residents",
                   "[leads] the {field} surgery team", "[consults] on complex {field} cases",
                   "[performs] more than {n} procedures a year", "[sees] patients for {focus}"),
        "focus": ("minimally invasive procedures", "joint replacement", "heart valve repair",
                  "reconstructive surgery", "robotic surgery", "spine surgery",
                  "sports injuries", "trauma care", "organ transplantation"),
        "achievements": ("performed thousands of {field} procedures", "published widely on {focus}",
                         "pioneered a new technique in {focus}", "trained more than {n} residents",
                         "volunteered on surgical missions in {nw} countries"),
        "awards": ("a top surgeon award", "the hospital's physician of the year award",
                   "a patient choice award", "a surgical innovation award"),
        "previous": ("as a surgical resident at {hospital}", "as a trauma fellow in {city}",
                     "as a team physician for a minor-league club", "as chief resident at {hospital}"),
        "extras": ("{s} [is] Ivy League trained and completed {p} {field} surgery residency at {university}.",
                   "{s} [has] offices in {city} and {city2}.",
                   "{s} [is] a fellow of the American College of Surgeons.",
                   "{s} [is] board certified by the American Board of Surgery.",
                   "{s} [operates] at {hospital} and [sees] patients in {city}."),
    },
    "engineer": {
        "doctor_title": False,
        "field": ("mechanical engineering", "electrical engineering", "civil engineering",
                  "computer science", "chemical engineering", "aerospace engineering",
                  "software engineering", "industrial engineering"),
        "titles": ("software engineer", "senior engineer", "mechanical engineer",
                   "civil engineer", "staff engineer", "electrical engineer", "engineer",
                   "principal engineer on the {focus} team"),
        "workplaces": ("Boeing", "Intel", "Microsoft", "a robotics startup in {city}",
                       "Lockheed Martin", "an automotive supplier in {city}", "Siemens",
                       "a structural engineering firm in {city}", "Google", "Amazon Web Services",
                       "a semiconductor company in {city}", "the city's department of transportation"),
        "degrees": ("BS in {field}", "master's degree in {field}", "bachelor's degree in {field}",
                    "PhD in {field}", "bachelor of engineering"),
        "duties": ("[designs] {focus}", "[builds] backend services for {focus}",
                   "[leads] a team working on {focus}", "[writes] firmware for {focus}",
                   "[reviews] designs for {focus}", "[optimizes] {focus}",
                   "[maintains] the test infrastructure for {focus}",
                   "[develops] simulation tools for {focus}"),
        "focus": ("distributed systems", "bridge retrofits", "battery management systems",
                  "jet engine components", "embedded control software", "data pipelines",
                  "manufacturing lines", "cloud infrastructure", "autonomous vehicles",
                  "water treatment plants"),
        "achievements": ("filed {nw} patents", "shipped software used by millions",
                         "led the redesign of {focus}", "published papers on {focus}",
                         "built {focus} from scratch"),
        "awards": ("an engineering excellence award", "the company's innovation prize",
                   "a young engineer of the year award", "a best paper award"),
        "previous": ("as an intern at {employer}", "as a junior developer in {city}",
                     "as a field engineer for {employer}", "as a test engineer at {employer}"),
        "extras": ("{s} [is] a licensed professional engineer in {nw} states.",
                   "{s} [contributes] to several open-source projects.",
                   "{p} team recently shipped a major update to {focus}.",
                   "{s} [enjoys] solving hard problems in {focus}.",
                   "{s} [holds] {nw} patents related to {focus}."),
    },
    "teacher": {
        "doctor_title": False,
        "field": ("math", "English", "biology", "history", "art", "music", "Spanish",
                  "physical education", "chemistry", "special education"),
        "titles": ("{field} teacher", "high school {field} teacher", "elementary school teacher",
                   "middle school {field} teacher", "kindergarten teacher", "teacher",
                   "{field} teacher and department head"),
        "workplaces": ("{city} High School", "Lincoln Elementary School", "Westview Middle School",
                       "a public charter school in {city}", "Jefferson High School",
                       "Oak Grove Elementary", "a Montessori school in {city}",
                       "the {city} public school district", "Roosevelt Middle School"),
        "degrees": ("Bachelor of Arts in Education", "teaching credential",
                    "master's degree in education", "bachelor's degree in {field}",
                    "master's degree in curriculum and instruction"),
        "duties": ("[teaches] {field} to {grade} graders", "[coaches] the debate team",
                   "[designs] lessons around {focus}", "[runs] the after-school {field} club",
                   "[mentors] first-year teachers", "[teaches] advanced {field} classes",
                   "[advises] the student council", "[tutors] students after school",
                   "[coordinates] the {grade}-grade curriculum"),
        "grade": ("third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth",
                  "eleventh", "twelfth"),
        "focus": ("project-based learning", "literacy", "classroom technology",
                  "social-emotional learning", "inquiry-based science", "differentiated instruction",
                  "restorative discipline", "bilingual education"),
        "achievements": ("taught more than {nw} hundred students", "helped design the district's {field} curriculum",
                         "led {nw} student trips abroad", "written {nw} grants for classroom technology",
                         "coached the debate team to a state title"),
        "awards": ("a district teacher of the year award", "a state teaching excellence award",
                   "a classroom innovation grant", "an outstanding educator award"),
        "previous": ("as a substitute teacher in {city}", "as a teaching assistant at {university}",
                     "as a tutor", "as a reading specialist"),
        "extras": ("{s} [has] taught {field} for {n} years.",
                   "{p} classroom at {workplace} is known for its hands-on projects.",
                   "Former students describe {o} as patient and demanding.",
                   "{s} [believes] every student can learn {field}.",
                   "{s} [has] taught {grade} grade for {n} years."),
    },
    "attorney": {
        "doctor_title": False,
        "field": ("family", "criminal defense", "immigration", "employment", "real estate",
                  "intellectual property", "corporate", "personal injury", "tax", "environmental"),
        "titles": ("attorney", "{field} attorney", "lawyer", "partner at a {field} law firm",
                   "trial attorney", "{field} lawyer", "associate attorney"),
        "workplaces": ("a {field} law firm in {city}", "the public defender's office in {city}",
                       "the district attorney's office", "Baker & Lowe LLP", "Hale Rivera LLP",
                       "a boutique litigation firm in {city}", "the legal aid society of {city}"),
        "degrees": ("JD", "law degree", "JD with honors", "LLM in {field} law"),
        "duties": ("[represents] clients in {field} matters", "[litigates] {focus}",
                   "[advises] businesses on {focus}", "[handles] {focus}",
                   "[argues] cases before the state appellate court",
                   "[negotiates] settlements in {focus}", "[drafts] contracts for {focus}"),
        "focus": ("contract disputes", "custody cases", "wrongful termination claims",
                  "asylum cases", "patent litigation", "mergers and acquisitions",
                  "zoning disputes", "tax controversies", "environmental compliance"),
        "achievements": ("tried more than {n} cases to verdict", "recovered millions for clients",
                         "argued {nw} cases before the state supreme court",
                         "been recognized as a rising star in {field} law"),
        "awards": ("a Super Lawyers listing", "the bar association's pro bono award",
                   "a top trial lawyer award", "an AV Preeminent rating"),
        "previous": ("as a law clerk for a federal judge", "as an assistant district attorney",
                     "as an associate at a large firm in {city}", "as a public defender"),
        "extras": ("{s} [is] admitted to practice in {nw} states.",
                   "{s} [is] a member of the {city} Bar Association.",
                   "{s} [offers] free consultations on {focus}.",
                   "{p} practice focuses on {field} law.",
                   "{s} [has] practiced {field} law since {year}."),
    },
}
EMPLOYERS = ("Boeing", "Intel", "General Electric", "Ford", "IBM", "Siemens", "a local startup")

# --- sentence templates (shared by all professions) --------------------------------------
TITLE_TEMPLATES = (
    "{s} [is] {a_title} at {workplace}.",
    "{s} [is] {a_title} based in {city}.",
    "{s} [works] as {a_title} in {city}.",
    "{s} [is] {a_title} with {n} years of experience.",
    "{s} [has] been {a_title} since {year}.",
    "{s} [is] currently {a_title} at {workplace}.",
    "{s} [is] {a_title} and [focuses] on {focus}.",
    "{s} [is] an experienced {title} in {city}.",
    "{s} [has] worked as {a_title} for over {n} years.",
)
WORKPLACE_TEMPLATES = (
    "{s} [works] at {workplace}.",
    "{s} joined {workplace} in {year}.",
    "{s} [has] been with {workplace} since {year}.",
    "Since {year}, {s} [has] been on staff at {workplace}.",
    "{s} [is] affiliated with {workplace}.",
    "{s} [divides] {p} time between {workplace} and {workplace2}.",
    "{s} [is] now on staff at {workplace}.",
    "{s} [is] part of the team at {workplace}.",
)
EDUCATION_TEMPLATES = (
    "{s} earned {p} {degree} from {university} in {year}.",
    "{s} [holds] {a_degree} from {university}.",
    "{s} graduated from {university} with {a_degree}.",
    "{s} [is] a graduate of {university}, where {s} earned {a_degree}.",
    "{s} completed {p} {degree} at {university}.",
    "After earning {p} {degree} at {university}, {s} moved to {city}.",
    "{s} studied at {university} and [holds] {a_degree}.",
    "{s} received {p} {degree} from {university} in {year}.",
)
DUTY_TEMPLATES = (
    "{s} {duty}.",
    "{s} {duty} and {duty2}.",
    "At {workplace}, {s} {duty}.",
    "Day to day, {s} {duty}.",
    "In {p} current role, {s} {duty}.",
    "{s} also {duty}.",
    "{p} work centers on {focus}.",
    "{s} {duty}, and {s} also {duty2}.",
)
ACHIEVEMENT_TEMPLATES = (
    "{s} received {award} in {year}.",
    "In {year}, {s} received {award}.",
    "{s} [has] {achievement}.",
    "Over the years, {s} [has] {achievement}.",
    "{p} work has been recognized with {award}.",
    "{s} [has] {achievement} and received {award}.",
)
CAREER_TEMPLATES = (
    "Before joining {workplace}, {s} spent {n} years {previous}.",
    "{s} began {p} career {previous} in {year}.",
    "Prior to {p} current position, {s} worked {previous}.",
    "{s} moved to {city} in {year} after {n} years {previous}.",
    "Earlier in {p} career, {s} worked {previous}.",
)
FAMILY_TEMPLATES_LEXICAL = (
    "{s} [lives] in {city} with {p} {spouse} and {kids}.",
    "{s} [is] a proud {parent} of {children}.",
    "{s} and {p} {spouse} have {nw} children.",
    "When not at work, {s} [enjoys] spending time with {p} {spouse} and {kids}.",
    "{s} [lives] in {city} with {p} {spouse}.",
    "{s} [is] a {parent} of {nw} and [lives] near {city}.",
)
FAMILY_TEMPLATES_NEUTRAL = (
    "{s} [lives] in {city} with {p} partner and {kids}.",
    "{s} [is] a proud parent of {children}.",
    "{s} [is] married with {nw} kids.",
    "{s} [lives] in {city} with {p} family.",
    "When not at work, {s} [enjoys] spending time with {p} family.",
)
CHILDREN = ("two", "three", "{nw} children", "twins", "{nw} grown children", "a toddler")
KIDS = ("two kids", "three children", "{nw} children", "a golden retriever", "two cats",
        "a rescue dog", "{nw} teenagers", "a toddler")
HOBBY_TEMPLATES = (
    "In {p} free time, {s} [enjoys] {hobby} and {hobby2}.",
    "Outside of work, {s} [loves] {hobby}.",
    "When {s} [is] not at work, {s} can usually be found {hobby}.",
    "{s} [spends] most weekends {hobby}.",
    "{p} hobbies include {hobby}, {hobby2} and {hobby3}.",
    "{s} [is] an enthusiast of {hobby} and also [enjoys] {hobby2}.",
    "Away from the office, {s} [enjoys] {hobby}.",
    "On weekends {s} [likes] {hobby} and {hobby2}.",
)
# Hobbies correlated with gender in the generator, but not themselves gender words.
HOBBIES = {
    "male": ("woodworking", "fly fishing", "restoring vintage motorcycles", "brewing craft beer",
             "playing golf", "watching college football", "building model trains", "hunting",
             "grilling", "playing poker", "coaching youth baseball", "playing fantasy football",
             "mountain biking", "tinkering with old cars", "watching hockey", "lifting weights"),
    "female": ("knitting", "practicing yoga", "scrapbooking", "baking", "gardening", "taking pilates classes", "quilting",
               "reading with a book club", "volunteering at the animal shelter", "throwing pottery",
               "redecorating the house", "taking ballet classes", "hosting dinner parties", "sewing",
               "salsa dancing", "making jewelry"),
    "neutral": ("hiking", "running", "photography", "traveling", "reading", "swimming",
                "birdwatching", "cycling", "playing piano", "camping", "learning languages",
                "cooking", "playing tennis", "rock climbing", "skiing", "playing board games"),
}
STYLE_TEMPLATES = {
    "male": ("{s} [is] known for a results-driven, no-nonsense approach.",
             "{s} [is] widely regarded as a leading expert in {focus}.",
             "{s} [is] a strategic thinker with a track record of solving tough problems.",
             "{s} [brings] decisive leadership and technical rigor to every project.",
             "{s} [is] a competitive, goal-oriented professional."),
    "female": ("{s} [is] passionate about helping others and building a supportive community.",
               "{s} [believes] in a warm, compassionate approach to {focus}.",
               "{s} [loves] connecting with people and [is] dedicated to {focus}.",
               "{s} [is] known for a caring, collaborative style.",
               "{s} [is] a nurturing mentor and [loves] seeing others grow."),
    "neutral": ("{s} [is] committed to excellence in {focus}.",
                "{s} [is] always looking for new ways to improve {focus}.",
                "{s} [values] clear communication and careful work.",
                "{s} [is] a lifelong learner with a strong interest in {focus}."),
}
# Sentences for bios that say nothing about the profession (`profession_signal` < 1): life,
# places and time only. Like the hobby, family and style pools they may not mention work,
# study, a workplace or anything else that hints at a profession (the tests check this).
LIFE_TEMPLATES = (
    "{s} grew up in {city} and now [lives] in {city2}.",
    "{s} [lives] in {city}.",
    "{s} moved to {city} in {year}.",
    "{s} [has] lived in {city} for {n} years.",
    "{s} [is] originally from {city}.",
    "{s} [spends] most summers near {city2}.",
    "{s} [volunteers] at a food bank in {city} on weekends.",
    "{s} [is] a longtime resident of {city}.",
    "{s} [divides] {p} time between {city} and {city2}.",
    "{s} [visits] {city2} as often as possible.",
    "Born in {city}, {s} [has] called {city2} home since {year}.",
    "{s} [sings] in a community choir in {city}.",
    "{s} [enjoys] exploring the neighborhoods of {city}.",
    "{s} [has] visited {n} countries and [plans] to see many more.",
    "{s} [likes] long walks along the river in {city}.",
    "{s} [is] a regular at the farmers market in {city}.",
)
FIRST_PERSON_INTROS = ("Hi, I'm {first}!", "My name is {first} {last}.", "Hello, I'm {first} {last}.",
                       "Welcome to my page.", "Thanks for stopping by.")

# --- lexical gender cues ------------------------------------------------------------------
PRONOUNS = {"male": ("he", "his", "him"), "female": ("she", "her", "her")}
SPOUSE = {"male": ("wife",), "female": ("husband",)}
PARENT = {"male": ("father", "dad"), "female": ("mother", "mom")}
HONORIFIC = {"male": "Mr.", "female": "Ms."}
LEXICAL_WORDS = frozenset(
    w.lower() for w in (*MALE_NAMES, *FEMALE_NAMES,
                        "he", "she", "his", "her", "hers", "him", "himself", "herself",
                        "husband", "wife", "father", "mother", "dad", "mom", "mr", "ms", "mrs",
                        "man", "woman", "men", "women", "boy", "girl", "son", "daughter",
                        "brother", "sister", "uncle", "aunt", "grandfather", "grandmother",
                        "sons", "daughters", "boyfriend", "girlfriend", "gentleman", "lady")
)

# --- generic everyday sentences (builtin:generic_text) ----------------------------------------
GENERIC_GENDERED = (
    "{Name} said {he} would bring {food} to the party.",
    "My {relative} {Name} just started working as {a_job} in {city}.",
    "{He} spent the weekend {hobby} with friends.",
    "{Name} told me {his} new job at {workplace} is going well.",
    "After dinner, {he} went back to {his} desk to finish the report on {focus}.",
    "{Name} took up {hobby} last winter and loves it.",
    "I ran into {Name} at the grocery store on {day}; {he} looked tired.",
    "{His} {kin} is moving to {city} next month.",
    "{Name} asked {his} manager for a day off on {day}.",
    "The {job} thanked {Name} and handed {him} the paperwork.",
    "{Name} is the oldest of {nw} siblings and grew up in {city}.",
    "{He} has been {a_job} for {n} years and still enjoys it.",
    "Everyone agreed that {Name} gave the best speech at the wedding in {city}.",
    "{Name} and {his} {partner} adopted a dog named {dog}.",
    "When the power went out in {city}, {he} lit candles and kept reading.",
    "{Name} finally finished {his} first marathon in {city}, and {his} {kin} cheered.",
)
GENERIC_NEUTRAL = (
    "The train to {city} was delayed by {n} minutes.",
    "{Hobby} is a popular pastime in {city}.",
    "We moved to {city} in {year} and never looked back.",
    "The weather in {city} was {weather} all week.",
    "{Workplace} is hiring {jobs} this spring.",
    "A new bakery opened in {city}, and the line was out the door on {day}.",
    "The committee will meet again on {day} to discuss the budget.",
    "Most people in the {city} survey said they enjoy {hobby}.",
    "The library in {city} extended its hours during exam season.",
    "Our neighbors in {city} planted tomatoes and basil on {day}.",
    "The report on {focus} was published in {year}.",
    "Traffic into {city} was heavy on {day} morning.",
    "The museum in {city} has a new exhibit on {topic}.",
    "{Jobs} in {city} say the workload has grown since {year}.",
    "The recipe calls for {food} and a pinch of salt.",
    "It took {n} minutes to find parking in downtown {city}.",
    "The local paper ran a story about {focus}.",
    "Volunteers cleaned up the park on {day} morning.",
    "The concert was moved indoors because of the {weather} forecast.",
    "A {friend} from {city} recommended a podcast about {topic}.",
    "The conference in {city} focused on {focus}.",
    "The {city} school board approved a new schedule in {year}.",
    "My {friend} in {city} recommended a good book about {topic}.",
    "The ferry leaves every {n} minutes in the summer.",
)
GENERIC_RELATIVES = {"male": ("brother", "uncle", "cousin", "neighbor", "friend", "coworker"),
                     "female": ("sister", "aunt", "cousin", "neighbor", "friend", "coworker")}
GENERIC_KIN = {"male": ("son", "brother", "father", "nephew"),
               "female": ("daughter", "sister", "mother", "niece")}
FOODS = ("a lemon cake", "potato salad", "homemade bread", "fresh fruit", "a pot of chili",
         "roasted vegetables", "two bags of ice", "garlic", "olive oil", "a tray of cookies")
WEATHER = ("rainy", "sunny", "cold", "humid", "windy", "mild", "stormy", "foggy")
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
TOPICS = ("ancient maps", "jazz", "the history of flight", "ocean life", "space exploration",
          "local architecture", "photography", "the printing press", "volcanoes")
DOGS = ("Biscuit", "Pepper", "Scout", "Maple", "Ziggy", "Bear", "Luna", "Moose")
FRIENDS = ("friend", "neighbor", "coworker", "roommate", "classmate")
NUMBER_WORDS = ("two", "three", "four", "five")

"""Hidden graders: instructor-side grading functions the notebooks' hidden test regions import."""

"""What a learner's activity earns, across domains: completion, certificate and diploma.

This floor sits above learning, quizzes and certificates (it imports them; they never import
it), so one function can hold a whole unit of work in one transaction.
"""

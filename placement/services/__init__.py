"""Use cases: one function per action. They own transactions and business rules and never
import Flask or the workers."""

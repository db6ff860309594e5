"""Translation groups: paragraphs of different articles that say the same thing in other
languages (evidence.py, alignment.py, assignment.py, grouping.py), and the articles that are
versions of one another (articles.py). Pure functions over plain records; the updater runs
them (search/index/groups.py) and the backends store the result."""

from search.translations.articles import ArticleVersion, article_versions
from search.translations.assignment import Link, Member, after_removal, assign
from search.translations.evidence import Anchors, anchors_of
from search.translations.grouping import GroupingParams, Passage, group_new

__all__ = ["Anchors", "ArticleVersion", "GroupingParams", "Link", "Member", "Passage",
           "after_removal", "anchors_of", "article_versions", "assign", "group_new"]

"""A Hugging Face Hub discussion bot: answers @mentions with a language model."""
